//! The text syntax of objectives (`"blocks.5:12".parse::<Objective>()`), one name per
//! constructor of [`crate::objective`]:
//!
//! - `LAYER:C` — mean of channel C ([`channel`])
//! - `neuron:LAYER:C` or `neuron:LAYER:C@X,Y` — one unit, the centre by default ([`neuron`]);
//!   of a transformer's token layer, `neuron:LAYER:D@X,Y` is feature D of the grid token at
//!   `(X, Y)`, `neuron:LAYER:D@cls` that of the class token, `@prefixK` of prefix token K
//!   ([`prefix_token`])
//! - `direction:LAYER:FILE` — the layer's activations projected on the vector in FILE (`.npy`
//!   or `.json`) ([`direction_from_file`])
//! - `logit:K` or `logit:LAYER:K` — class K of the model's logits output ([`OUTPUT`]) or of
//!   LAYER ([`logit`])
//! - `deepdream:LAYER` — mean squared activation of a layer ([`deepdream`])
//! - `diversity:LAYER` — batch diversity ([`diversity`])
//! - `l1`, `total_variation`, `blur` — image penalties, written with `-` ([`l1`] at 0.5,
//!   [`total_variation`], [`blur`])
//!
//! Terms join with `+` and `-`, each with an optional `K*` factor:
//! `blocks.5:12 + 0.5*diversity:blocks.5 - 0.05*total_variation`. Terms split at every `+` and
//! at a `-` that follows a space, so layer names may hold dashes. The index of a term is the
//! number after the *last* colon, so layer names may hold colons too (TensorFlow's
//! `block5_conv3/Relu:0:12` is channel 12 of `block5_conv3/Relu:0`); a name may also be written
//! in double quotes.

use std::str::FromStr;

use crate::error::{Error, Result};
use crate::objective::{
    OUTPUT, Objective, blur, channel, deepdream, direction_from_file, diversity, l1, logit, neuron,
    prefix_token, total_variation,
};

impl FromStr for Objective {
    type Err = Error;

    /// Parses an objective written in the syntax of [this module](self).
    fn from_str(spec: &str) -> Result<Objective> {
        parse(spec)
    }
}

fn parse(spec: &str) -> Result<Objective> {
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

/// A layer name without the double quotes that may surround it (`"a:b":3`).
fn unquote(layer: &str) -> String {
    let layer = layer.trim();
    layer
        .strip_prefix('"')
        .and_then(|l| l.strip_suffix('"'))
        .unwrap_or(layer)
        .to_string()
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
    let split_last = |s: &str| -> Result<(String, usize)> {
        let (layer, n) = s
            .rsplit_once(':')
            .ok_or_else(|| bad(spec, &format!("`{s}` needs LAYER:INDEX")))?;
        if layer.is_empty() {
            return Err(bad(spec, "empty layer name"));
        }
        Ok((unquote(layer), number(n)?))
    };
    let objective = match body.split_once(':') {
        None if body == "l1" => l1(0.5),
        None if body == "total_variation" => total_variation(),
        None if body == "blur" => blur(),
        None => return Err(bad(spec, &format!("unknown term `{body}`"))),
        Some(("logit", k)) if !k.contains(':') => logit(OUTPUT, number(k)?),
        Some(("logit", rest)) => {
            let (layer, k) = split_last(rest)?;
            logit(&layer, k)
        }
        Some(("deepdream", layer)) => deepdream(&unquote(layer)),
        Some(("diversity", layer)) => diversity(&unquote(layer)),
        Some(("direction", rest)) => {
            let (layer, file) = rest
                .rsplit_once(':')
                .filter(|(l, f)| !l.is_empty() && !f.is_empty())
                .ok_or_else(|| bad(spec, "a direction is `direction:LAYER:FILE`"))?;
            direction_from_file(&unquote(layer), file.trim())?
        }
        Some(("neuron", rest)) => match rest.rsplit_once('@') {
            Some((unit, pos)) if !pos.contains(':') => {
                let (layer, c) = split_last(unit)?;
                match token_position(pos.trim()) {
                    Some(index) => prefix_token(&layer, c, index),
                    None => {
                        let (x, y) = pos.split_once(',').ok_or_else(|| {
                            bad(
                                spec,
                                &format!(
                                    "`@{pos}` is not a position: write `@X,Y` (a grid token or spatial unit), `@cls` (the class token) or `@prefixK` (prefix token K)"
                                ),
                            )
                        })?;
                        neuron(&layer, c, Some((number(x)?, number(y)?)))
                    }
                }
            }
            _ => {
                let (layer, c) = split_last(rest)?;
                neuron(&layer, c, None)
            }
        },
        Some(_) => {
            let (layer, c) = split_last(body)?;
            channel(&layer, c)
        }
    };
    Ok(if factor == 1.0 {
        objective
    } else {
        factor * objective
    })
}

/// The prefix token a position names: `cls` is token 0, `prefixK` token K.
fn token_position(pos: &str) -> Option<usize> {
    if pos == "cls" {
        return Some(0);
    }
    pos.strip_prefix("prefix")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(spec: &str) -> Result<Objective> {
        spec.parse()
    }

    #[test]
    fn parses_sums_and_factors() {
        let o = parse("blocks.5:12 + 0.5*diversity:blocks.5 - 0.05*total_variation").unwrap();
        assert_eq!(o.layers(), ["blocks.5".to_string()]);
        assert_eq!(
            o.to_string(),
            "blocks.5:12 + 0.5*diversity:blocks.5 - 0.05*total_variation"
        );
        let n = parse("neuron:head.relu6:7@3,4").unwrap();
        assert_eq!(n.to_string(), "neuron:head.relu6:7@3,4");
        let logits = parse("logit:282").unwrap();
        assert_eq!(logits.layers(), [OUTPUT.to_string()]);
        assert_eq!(logits.to_string(), "logit:282");
        let tf = parse("block5_conv3/Relu:0:12 + neuron:a:b:0:3@1,2 + \"x:1\":4").unwrap();
        assert_eq!(
            tf.layers(),
            [
                "block5_conv3/Relu:0".to_string(),
                "a:b:0".to_string(),
                "x:1".to_string()
            ]
        );
    }

    #[test]
    fn the_display_of_every_named_term_parses_back_to_itself() {
        for spec in [
            "a:1",
            "neuron:a:2",
            "neuron:a:2@3,4",
            "logit:out:5",
            "logit:5",
            "a/b:0:3",
            "neuron:a/b:0:2@3,4",
            "neuron:blocks.5:7@cls",
            "neuron:blocks.5:7@prefix2",
            "deepdream:a",
            "diversity:a",
            "l1",
            "total_variation",
            "blur",
            "-2*a:1 + b-c:0 - 0.25*blur",
        ] {
            assert_eq!(parse(spec).unwrap().to_string(), spec);
        }
    }

    #[test]
    fn long_sums_stay_flat() {
        let spec = vec!["a:1"; 12_000].join(" + ");
        let objective = parse(&spec).unwrap();
        assert_eq!(objective.layers(), ["a".to_string()]);
        assert_eq!(objective.to_string().matches('+').count(), 11_999);
        let device = burn::tensor::Device::flex();
        let image = burn::tensor::Tensor::<4>::zeros([1, 3, 2, 2], &device);
        let act = burn::tensor::Tensor::<4>::ones([1, 2, 1, 1], &device);
        let activations = crate::Activations::new(image, &["a"], vec![act]);
        let value = objective.evaluate(&activations).unwrap();
        assert_eq!(value.into_scalar::<f32>(), 12_000.0);
    }

    #[test]
    fn rejects_nonsense() {
        for spec in [
            "",
            "blocks.5:x",
            "a:b:c:d",
            "2*",
            "tv",
            "x*a:1",
            ":3",
            "logit:",
            "neuron:a:1@class",
            "neuron:a:1@prefix",
            "neuron:a:1@prefix-1",
            "direction:a",
        ] {
            assert!(parse(spec).is_err(), "{spec}");
        }
    }
}
