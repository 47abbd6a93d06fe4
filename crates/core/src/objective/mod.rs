//! Objectives: scalar functions of the activations that the ascent maximises, with algebra.
//!
//! An objective is a weighted sum of terms. Build terms with the constructors of this module
//! (or parse them from text, see [`text`]) and combine them with `+`, `-` and scalar `*`:
//!
//! ```
//! use excite_core::Objective;
//! use excite_core::objective::{channel, diversity, total_variation};
//!
//! let built = channel("blocks.5", 12) + 0.5 * diversity("blocks.5") - 0.1 * total_variation();
//! let parsed: Objective = "blocks.5:12 + 0.5*diversity:blocks.5 - 0.1*total_variation".parse()?;
//! assert_eq!(built.to_string(), parsed.to_string());
//! assert_eq!(parsed.layers(), ["blocks.5"]);
//! # Ok::<(), excite_core::Error>(())
//! ```
//!
//! Sums stay flat: however many terms an objective has, evaluating it recurses no deeper than
//! one term.

mod closeness;
mod direction_file;
mod image;
mod layer;
pub mod text;

use std::fmt;
use std::ops::{Add, Mul, Neg, Sub};
use std::sync::Arc;

use burn::tensor::Tensor;

use crate::activations::Activations;
use crate::error::{Error, Result};
use crate::model::VisualModel;

pub use closeness::distance_from;
pub use direction_file::direction_from_file;
pub use image::{blur, l1, total_variation};
pub use layer::{
    OUTPUT, PREFIX_SUFFIX, channel, channels_per_image, deepdream, direction, diversity,
    diversity_in_groups, logit, neuron, prefix_layer, prefix_token,
};

/// The closure of one term: the activations to a one-element tensor.
type EvalFn = dyn Fn(&Activations) -> Result<Tensor<1>> + Send + Sync;

/// One weighted term of an objective.
#[derive(Clone)]
struct Term {
    weight: f32,
    description: String,
    eval: Arc<EvalFn>,
}

impl Term {
    fn evaluate(&self, activations: &Activations) -> Result<Tensor<1>> {
        let value = (self.eval)(activations)?;
        Ok(if self.weight == 1.0 {
            value
        } else {
            value * self.weight
        })
    }
}

/// A scalar objective to maximise: a weighted sum of terms, each a closure over named
/// activations. Built from the constructors of this module, combined with `+`, `-` and scalar
/// `*`, or parsed from text (`"blocks.5:12".parse()`).
#[derive(Clone)]
pub struct Objective {
    terms: Vec<Term>,
    layers: Vec<String>,
}

impl fmt::Debug for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Objective({self})")
    }
}

impl fmt::Display for Objective {
    /// The objective in the text syntax of [`text`] (terms that have no text form, such as
    /// [`direction`], show a descriptive name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            let magnitude = term.weight.abs();
            let sign = match (i, term.weight < 0.0) {
                (0, false) => "",
                (0, true) => "-",
                (_, false) => " + ",
                (_, true) => " - ",
            };
            f.write_str(sign)?;
            if magnitude != 1.0 {
                write!(f, "{magnitude}*")?;
            }
            f.write_str(&term.description)?;
        }
        Ok(())
    }
}

impl Objective {
    /// An objective of one term: a closure over the activations of `layers` (and of
    /// [`crate::INPUT`], the image, which needs no listing) that returns a one-element tensor.
    ///
    /// # Shapes
    /// - eval's output: `[1]`
    pub fn new(
        layers: Vec<String>,
        description: impl Into<String>,
        eval: impl Fn(&Activations) -> Result<Tensor<1>> + Send + Sync + 'static,
    ) -> Self {
        Self {
            terms: vec![Term {
                weight: 1.0,
                description: description.into(),
                eval: Arc::new(eval),
            }],
            layers,
        }
    }

    /// The model layers this objective reads, without repeats (never [`crate::INPUT`]).
    pub fn layers(&self) -> &[String] {
        &self.layers
    }

    /// Evaluates the objective on activations.
    ///
    /// # Shapes
    /// - output: `[1]`
    pub fn evaluate(&self, activations: &Activations) -> Result<Tensor<1>> {
        let mut total: Option<Tensor<1>> = None;
        for term in &self.terms {
            let value = term.evaluate(activations)?;
            total = Some(match total {
                None => value,
                Some(sum) => sum + value,
            });
        }
        total.ok_or_else(|| Error::Invalid("the objective has no terms".into()))
    }

    /// Runs `model` on `images` (`[B, 3, H, W]`, values in `[0, 1]`) as far as this objective
    /// needs and evaluates it. Gradients flow back to `images` on an autodiff device.
    ///
    /// # Shapes
    /// - images: `[batch, 3, height, width]`
    /// - output: `[1]`
    pub fn evaluate_on(&self, model: &dyn VisualModel, images: Tensor<4>) -> Result<Tensor<1>> {
        self.evaluate_transformed(model, images.clone(), images)
    }

    /// Like [`Objective::evaluate_on`], but the model sees `input` (e.g. `image` after random
    /// transforms) while image terms such as [`total_variation`] see `image`.
    ///
    /// # Shapes
    /// - image: `[batch, 3, height, width]`
    /// - input: `[batch, 3, any, any]`
    /// - output: `[1]`
    pub fn evaluate_transformed(
        &self,
        model: &dyn VisualModel,
        image: Tensor<4>,
        input: Tensor<4>,
    ) -> Result<Tensor<1>> {
        let layers: Vec<&str> = self.layers.iter().map(String::as_str).collect();
        self.evaluate(&Activations::compute(model, image, input, &layers)?)
    }

    /// The same objective applied to batch item `index` alone, so that each image of a batch
    /// can optimise its own objective.
    pub fn at(self, index: usize) -> Self {
        let terms = self
            .terms
            .into_iter()
            .map(|term| {
                let inner = term.eval;
                Term {
                    description: format!("({})@{index}", term.description),
                    eval: Arc::new(move |acts: &Activations| inner(&acts.select(index)?)),
                    ..term
                }
            })
            .collect();
        Self {
            terms,
            layers: self.layers,
        }
    }

    fn scaled(mut self, factor: f32) -> Self {
        for term in &mut self.terms {
            term.weight *= factor;
        }
        self
    }
}

impl Add for Objective {
    type Output = Objective;
    fn add(mut self, rhs: Objective) -> Objective {
        for layer in rhs.layers {
            if !self.layers.contains(&layer) {
                self.layers.push(layer);
            }
        }
        self.terms.extend(rhs.terms);
        self
    }
}

impl Sub for Objective {
    type Output = Objective;
    fn sub(self, rhs: Objective) -> Objective {
        self + -rhs
    }
}

impl Mul<Objective> for f32 {
    type Output = Objective;
    fn mul(self, rhs: Objective) -> Objective {
        rhs.scaled(self)
    }
}

impl Mul<f32> for Objective {
    type Output = Objective;
    fn mul(self, rhs: f32) -> Objective {
        self.scaled(rhs)
    }
}

impl Neg for Objective {
    type Output = Objective;
    fn neg(self) -> Objective {
        self.scaled(-1.0)
    }
}
