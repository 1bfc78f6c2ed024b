//! Render one figure with every panel type: `cargo run -p plotting --example gallery -- OUT_STEM`.
//! Used to look at the styles by eye.

fn main() {
    let stem = std::env::args().nth(1).unwrap_or_else(|| "gallery".into());
    let x: Vec<f64> = (0..60).map(|i| i as f64).collect();
    let runs = |k: f64| {
        (0..3)
            .map(|s| {
                x.iter()
                    .map(|t| 1.0 - (-t / k).exp() - 0.05 * s as f64 * (-t / 30.0).exp())
                    .collect()
            })
            .collect()
    };
    use plotting::*;
    let panels = vec![
        Panel::Lines(LinePanel {
            title: "mean ± std over 3 seeds".into(),
            x: Axis::linear("epoch"),
            y: Axis::linear("train accuracy"),
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
        Panel::Scatter(ScatterPanel {
            title: "log-log scatter with fits".into(),
            x: Axis::log("reward std"),
            y: Axis::log("gradient norm"),
            groups: vec![PointGroup {
                label: "instances".into(),
                points: (1..60)
                    .map(|i| {
                        let s = 10f64.powf(-6.0 + i as f64 / 10.0);
                        (s, 0.3 * s)
                    })
                    .collect(),
            }],
            lines: vec![RefLine {
                label: "bound: slope 2/3".into(),
                curve: Curve::PowerLaw {
                    coefficient: 6.0,
                    exponent: 2.0 / 3.0,
                },
                color: None,
                dashed: true,
            }],
            legend: Legend::UpperLeft,
        }),
        Panel::Histogram(HistogramPanel {
            title: "histogram (log bins)".into(),
            x: Axis::log("value"),
            bins: 30,
            groups: vec![(
                "a".into(),
                (1..500).map(|i| 1e-3 * (i as f64).powi(2)).collect(),
            )],
        }),
        Panel::MeanStd(MeanStdPanel {
            title: "mean vs std (Figure 1 style)".into(),
            groups: vec![PointGroup {
                label: "inputs".into(),
                points: (0..200)
                    .map(|i| {
                        let s = (i as f64 / 200.0) * 0.3;
                        (s, (i % 17) as f64 / 17.0)
                    })
                    .collect(),
            }],
            small_std: 0.05,
            reward_label: "reward".into(),
        }),
        Panel::Heatmap(HeatmapPanel {
            title: "annotated heatmap".into(),
            x_label: "SFT steps".into(),
            y_label: "labelled fraction".into(),
            col_labels: vec!["0".into(), "1".into(), "10".into(), "100".into()],
            row_labels: vec!["1%".into(), "10%".into(), "100%".into()],
            values: vec![
                vec![0.1, 0.2, 0.4, 0.5],
                vec![0.1, 0.3, 0.6, 0.7],
                vec![0.1, 0.4, 0.7, 0.9],
            ],
            digits: 2,
        }),
    ];
    let mut fig = Figure::row(Some("plotting gallery"), panels);
    fig.columns = 3;
    fig.save(std::path::Path::new(&stem))
        .expect("render gallery");
    println!("wrote {stem}.png and {stem}.svg");
}
