//! Every panel type renders to PNG and SVG, draws its data (the pixels change with the data),
//! and bad input is an error, not a panic.

use plotting::*;

use plotting::demo::scatter;

fn all_panels() -> Vec<Panel> {
    plotting::demo::all_panels()
}

fn non_white(rgb: &[u8]) -> usize {
    rgb.chunks(3).filter(|p| p != &[255, 255, 255]).count()
}

#[test]
fn every_panel_type_renders_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let mut fig = Figure::row(Some("all panel types"), all_panels());
    fig.columns = 3;
    fig.save(&dir.path().join("sub/all")).unwrap();
    let png = std::fs::read(dir.path().join("sub/all.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let svg = std::fs::read_to_string(dir.path().join("sub/all.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("train accuracy") && svg.contains("partial SFT")
    );
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn each_panel_draws_something_and_depends_on_its_data() {
    for panel in all_panels() {
        let rgb = Figure::row(None, vec![panel]).render_rgb().unwrap();
        assert!(non_white(&rgb) > 5_000, "a panel drew almost nothing");
    }
    let a = Figure::row(None, vec![scatter(0.0)]).render_rgb().unwrap();
    let b = Figure::row(None, vec![scatter(3.0)]).render_rgb().unwrap();
    assert_ne!(a, b, "moving the points must change the picture");
}

#[test]
fn a_heatmap_without_a_defined_cell_still_draws_its_grid_in_grey() {
    let heat = |v: f64| {
        Panel::Heatmap(HeatmapPanel {
            title: "undefined".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            col_labels: vec!["1".into(), "100".into()],
            row_labels: vec!["100".into(), "40".into()],
            values: vec![vec![v; 2]; 2],
            digits: 2,
        })
    };
    let rgb = Figure::row(None, vec![heat(f64::NAN)])
        .render_rgb()
        .unwrap();
    let grey = rgb.chunks(3).filter(|p| p == &[225, 225, 225]).count();
    assert!(
        grey > 10_000,
        "undefined cells must be drawn, found {grey} grey pixels"
    );
    let defined = Figure::row(None, vec![heat(1.0)]).render_rgb().unwrap();
    assert_ne!(rgb, defined);
}

#[test]
fn the_first_group_is_drawn_in_the_first_palette_colour() {
    let rgb = Figure::row(None, vec![scatter(0.0)]).render_rgb().unwrap();
    // Points are tableau blue (31,119,180) blended at 55% over white.
    let blended = |c: u8| (c as f64 * 0.55 + 255.0 * 0.45).round() as i32;
    let target = [blended(31), blended(119), blended(180)];
    let hits = rgb
        .chunks(3)
        .filter(|p| {
            p.iter()
                .zip(target)
                .all(|(a, b)| (*a as i32 - b).abs() <= 2)
        })
        .count();
    assert!(hits > 100, "expected many blue point pixels, found {hits}");
}

#[test]
fn empty_figure_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = Figure::row(None, vec![])
        .save(&dir.path().join("empty"))
        .unwrap_err();
    assert!(
        err.to_string().contains("empty") && err.to_string().contains("at least one panel"),
        "{err}"
    );
}
