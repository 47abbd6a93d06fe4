//! A small text syntax for objectives, for command lines:
//!
//! - `LAYER:C` — mean of channel C (`channel`)
//! - `neuron:LAYER:C` or `neuron:LAYER:C@X,Y` — one unit (centre by default)
//! - `logit:K` or `logit:LAYER:K` — class K of `logits` (or of LAYER)
//! - `deepdream:LAYER` — mean squared activation of a layer
//! - `diversity:LAYER` — batch diversity
//! - `l1`, `tv`, `blur` — image penalties (write them with `-`)
//!
//! Terms join with `+` and `-`, each with an optional `K*` factor:
//! `blocks.5:12 + 0.5*diversity:blocks.5 - 0.05*tv`.

use crate::error::{Error, Result};
use crate::objective::{
    Objective, blur, channel, class_logit, diversity, l1, layer_l2, neuron, total_variation,
};

/// Parses an objective written in the syntax above. Terms split at every `+` and at a `-`
/// that follows a space (so layer names may hold dashes).
pub fn parse_objective(spec: &str) -> Result<Objective> {
    let mut terms: Vec<(f32, String)> = vec![(1.0, String::new())];
    let mut previous = ' ';
    for c in spec.chars() {
        match c {
            '+' => terms.push((1.0, String::new())),
            '-' if previous.is_whitespace() => terms.push((-1.0, String::new())),
            _ => terms.last_mut().expect("one term").1.push(c),
        }
        previous = c;
    }
    if terms.first().is_some_and(|(_, t)| t.trim().is_empty()) && terms.len() > 1 {
        terms.remove(0);
    }
    terms
        .into_iter()
        .map(|(sign, term)| parse_term(spec, term.trim()).map(|o| if sign < 0.0 { -o } else { o }))
        .reduce(|a, b| Ok(a? + b?))
        .expect("at least one term")
}

fn bad(spec: &str, reason: &str) -> Error {
    Error::Invalid(format!("cannot parse objective `{spec}`: {reason}"))
}

fn parse_term(spec: &str, term: &str) -> Result<Objective> {
    let (factor, body) = match term.split_once('*') {
        Some((k, body)) => (
            k.trim()
                .parse::<f32>()
                .map_err(|_| bad(spec, &format!("`{k}` is not a number")))?,
            body.trim(),
        ),
        None => (1.0, term),
    };
    let number = |s: &str| -> Result<usize> {
        s.trim()
            .parse()
            .map_err(|_| bad(spec, &format!("`{s}` is not a non-negative integer")))
    };
    if body.is_empty() {
        return Err(bad(spec, "empty term"));
    }
    let objective = match body.split(':').collect::<Vec<_>>().as_slice() {
        ["l1"] => l1(0.5),
        ["tv"] => total_variation(),
        ["blur"] => blur(),
        ["logit", k] => class_logit("logits", number(k)?),
        ["logit", layer, k] => class_logit(layer, number(k)?),
        ["deepdream", layer] => layer_l2(layer),
        ["diversity", layer] => diversity(layer),
        ["neuron", layer, rest] => match rest.split_once('@') {
            None => neuron(layer, number(rest)?, None),
            Some((c, pos)) => {
                let (x, y) = pos
                    .split_once(',')
                    .ok_or_else(|| bad(spec, "a position is X,Y"))?;
                neuron(layer, number(c)?, Some((number(x)?, number(y)?)))
            }
        },
        [layer, c] => channel(layer, number(c)?),
        _ => return Err(bad(spec, &format!("unknown term `{body}`"))),
    };
    Ok(if factor == 1.0 {
        objective
    } else {
        factor * objective
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sums_and_factors() {
        let o = parse_objective("blocks.5:12 + 0.5*diversity:blocks.5 - 0.05*tv").unwrap();
        assert_eq!(o.layers(), ["blocks.5".to_string()]);
        let text = o.to_string();
        assert!(
            text.contains("blocks.5:12") && text.contains("diversity") && text.contains("TV"),
            "{text}"
        );
        let n = parse_objective("neuron:head.relu6:7@3,4").unwrap();
        assert_eq!(n.to_string(), "head.relu6:7@(3,4)");
        assert_eq!(
            parse_objective("logit:282").unwrap().layers(),
            ["logits".to_string()]
        );
    }

    #[test]
    fn rejects_nonsense() {
        assert!(parse_objective("").is_err());
        assert!(parse_objective("blocks.5:x").is_err());
        assert!(parse_objective("a:b:c:d").is_err());
        assert!(parse_objective("2*").is_err());
    }
}
