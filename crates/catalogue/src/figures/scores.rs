//! The render's scores against its top photos (`excite_views::scores`): a table, and the
//! path through the network drawn as a small SVG chart (`path.svg`).

use std::fmt::Write;

use excite_core::Result;
use excite_views::Scores;

use super::{Figure, UnitParts, figure};
use crate::record::UnitRecord;
use crate::site::html::escape;

/// The chart's size, in pixels.
const WIDTH: f32 = 320.0;
const HEIGHT: f32 = 120.0;
const MARGIN: f32 = 8.0;

/// The scores and the path chart.
pub struct ScoresFigure;

impl Figure for ScoresFigure {
    fn name(&self) -> &'static str {
        "scores"
    }
    fn section(&self) -> Option<&'static str> {
        Some("How far to trust the render")
    }
    fn files(&self, unit: &UnitParts) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(unit
            .views
            .and_then(|v| v.summary.scores.as_ref())
            .filter(|s| !s.path.is_empty())
            .map(|s| ("path.svg".to_string(), path_chart(s).into_bytes()))
            .into_iter()
            .collect())
    }
    fn html(&self, channel: usize, record: &UnitRecord) -> String {
        let Some(scores) = record.examples.as_ref().and_then(|e| e.scores.as_ref()) else {
            return String::new();
        };
        let number = |v: Option<f32>| v.map_or("—".to_string(), |v| format!("{v:.2}"));
        let verdict = match scores.path_similarity {
            None => "",
            Some(_) if scores.path_ok() => {
                " (passes: closer to the top photos' path than random photos)"
            }
            Some(_) => {
                " (fails: no closer to the top photos' path than random photos; distrust this picture)"
            }
        };
        let mut out = String::from("<dl class=\"facts\">");
        let _ = write!(
            out,
            "<dt>activation vs photos</dt><dd>{}</dd><dt>path similarity</dt><dd class=\"{}\">{}{}</dd><dt>plausibility</dt><dd>{:.2} (in <code>{}</code>; 1 = as close to the top photos as a random photo is; higher is further)</dd></dl>",
            number(scores.activation_vs_photos),
            if scores.path_ok() { "ok" } else { "distrust" },
            number(scores.path_similarity),
            escape(verdict),
            scores.plausibility,
            escape(&scores.feature_layer),
        );
        if let Some(file) = record.files.first(self.name()) {
            let _ = write!(
                out,
                "<div class=\"figures\">{}</div>",
                figure(
                    channel,
                    "chart",
                    file,
                    "path: the render's similarity to the top photos per layer (dark), and random photos' (light)"
                )
            );
        }
        out
    }
}

/// The path as an SVG chart: per layer (left to right, input first), the render's mean
/// Spearman correlation with the top photos and the random photos', on a -1..1 axis.
fn path_chart(scores: &Scores) -> String {
    let n = scores.path.len();
    let x = |i: usize| {
        if n == 1 {
            WIDTH / 2.0
        } else {
            MARGIN + (WIDTH - 2.0 * MARGIN) * i as f32 / (n - 1) as f32
        }
    };
    let y = |v: f32| MARGIN + (HEIGHT - 2.0 * MARGIN) * (1.0 - v.clamp(-1.0, 1.0)) / 2.0;
    let line = |pick: fn(&excite_views::scores::PathPoint) -> f32| -> String {
        scores
            .path
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x(i), y(pick(p))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><line x1=\"0\" x2=\"{WIDTH}\" y1=\"{zero:.1}\" y2=\"{zero:.1}\" stroke=\"#ccc\"/><polyline fill=\"none\" stroke=\"#9ab\" stroke-width=\"2\" points=\"{baseline}\"/><polyline fill=\"none\" stroke=\"#0a66c2\" stroke-width=\"2\" points=\"{render}\"/>",
        zero = y(0.0),
        baseline = line(|p| p.baseline),
        render = line(|p| p.render),
    );
    for (i, p) in scores.path.iter().enumerate() {
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#0a66c2\"><title>{}: {:.2} (random photos {:.2})</title></circle>",
            x(i),
            y(p.render),
            escape(&p.layer),
            p.render,
            p.baseline
        );
    }
    svg.push_str("</svg>");
    svg
}
