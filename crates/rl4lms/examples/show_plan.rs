//! Print the plan of an RL4LMs config file: `cargo run -p rl4lms --example show_plan -- FILE [key=value ...]`.
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: show_plan FILE [key.path=value ...]");
    let overrides: Vec<_> = args.map(|a| rl4lms::Override::parse(&a).unwrap()).collect();
    match rl4lms::load(std::path::Path::new(&path), &overrides) {
        Ok(plan) => print!("{plan}"),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
