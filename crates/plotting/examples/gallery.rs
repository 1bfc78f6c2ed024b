//! Render one figure with every panel type (synthetic data) to look at the styles by eye:
//! `cargo run -p plotting --example gallery -- OUT_STEM` (writes OUT_STEM.png and OUT_STEM.svg).

fn main() {
    let stem = std::env::args().nth(1).unwrap_or_else(|| "gallery".into());
    let mut fig = plotting::Figure::row(Some("plotting gallery"), plotting::demo::all_panels());
    fig.columns = 3;
    fig.save(std::path::Path::new(&stem))
        .expect("render gallery");
    println!("wrote {stem}.png and {stem}.svg");
}
