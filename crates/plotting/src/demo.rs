//! Synthetic panels of every type, for the render tests and the `gallery` example.
//! The data are made up on purpose: they exercise the drawing code, not any experiment.

use crate::*;

/// A log-log scatter whose points move up by the factor `1 + shift` (to check a figure follows its data).
pub fn scatter(shift: f64) -> Panel {
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

/// One panel of each type, filled with synthetic data.
pub fn all_panels() -> Vec<Panel> {
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
            reward_range: Some((0.0, 1.0)),
            low_reward: Some(0.2),
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
