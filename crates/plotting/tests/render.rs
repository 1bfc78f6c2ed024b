//! Every panel type renders to PNG and SVG, draws its data (the pixels change with the data),
//! and bad input is an error, not a panic.

use plotting::*;

fn scatter(shift: f64) -> Panel {
    let pts: Vec<(f64, f64)> = (1..60)
        .map(|i| {
            let x = 10f64.powf(-6.0 + i as f64 / 10.0);
            (x, 0.5 * x.powf(0.9) * (1.0 + shift))
        })
        .collect();
    Panel::Scatter(ScatterPanel {
        title: "gradient vs std".into(),
        x: Axis::log("reward std"),
        y: Axis::log("gradient norm"),
        groups: vec![PointGroup {
            label: "softmax".into(),
            points: pts,
        }],
        lines: vec![RefLine {
            label: "bound 6 std^(2/3)".into(),
            curve: Curve::PowerLaw {
                coefficient: 6.0,
                exponent: 2.0 / 3.0,
            },
            color: None,
            dashed: true,
        }],
        legend: Legend::UpperLeft,
    })
}

fn all_panels() -> Vec<Panel> {
    let x: Vec<f64> = (0..50).map(|i| i as f64).collect();
    let runs = |k: f64| {
        (0..3)
            .map(|s| {
                x.iter()
                    .map(|t| 1.0 - (-t / k).exp() + 0.02 * s as f64)
                    .collect()
            })
            .collect()
    };
    vec![
        Panel::Lines(LinePanel {
            title: "train accuracy".into(),
            x: Axis::linear("epoch"),
            y: Axis::linear("accuracy"),
            series: vec![
                LineSeries {
                    label: "SFT".into(),
                    x: x.clone(),
                    runs: runs(5.0),
                },
                LineSeries {
                    label: "RFT".into(),
                    x: x.clone(),
                    runs: runs(40.0),
                },
            ],
            legend: Legend::LowerRight,
        }),
        scatter(0.0),
        Panel::Histogram(HistogramPanel {
            title: "ratio to bound".into(),
            x: Axis::log("ratio"),
            bins: 20,
            groups: vec![
                ("a".into(), (1..200).map(|i| 1e-4 * i as f64).collect()),
                ("b".into(), vec![0.5, 0.1, f64::NAN, -1.0]),
            ],
        }),
        Panel::MeanStd(MeanStdPanel {
            title: "train inputs".into(),
            groups: vec![PointGroup {
                label: "GPT-2".into(),
                points: (0..100)
                    .map(|i| (i as f64 / 400.0, (i as f64 / 100.0).sqrt()))
                    .collect(),
            }],
            small_std: 0.05,
            reward_label: "reward".into(),
        }),
        Panel::Heatmap(HeatmapPanel {
            title: "partial SFT".into(),
            x_label: "SFT steps".into(),
            y_label: "% labelled".into(),
            col_labels: vec!["0".into(), "10".into(), "100".into()],
            row_labels: vec!["1%".into(), "10%".into()],
            values: vec![vec![0.1, 0.25, f64::NAN], vec![0.3, 0.5, 0.9]],
            digits: 2,
        }),
    ]
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
