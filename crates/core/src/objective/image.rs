//! Objectives on the image itself (read under [`INPUT`]): penalties to subtract.
//!
//! The image reaches these closures as `[batch, 3, height, width]` with values in `[0, 1]`.

use burn::tensor::module::avg_pool2d;
use burn::tensor::ops::AvgPoolOptions;

use super::Objective;
use crate::activations::INPUT;

/// Mean absolute deviation of the image from `constant` (an L1 penalty: subtract it).
/// Text: `l1` (for the constant 0.5).
pub fn l1(constant: f32) -> Objective {
    let description = if constant == 0.5 {
        "l1".to_string()
    } else {
        format!("l1(input - {constant})")
    };
    Objective::new(Vec::new(), description, move |acts| {
        Ok((acts.get(INPUT)? - constant).abs().mean())
    })
}

/// Mean absolute difference of neighbouring pixels (a smoothness penalty: subtract it).
/// Text: `total_variation`.
pub fn total_variation() -> Objective {
    Objective::new(Vec::new(), "total_variation", |acts| {
        let x = acts.get(INPUT)?;
        let [_, _, h, w] = x.dims();
        let dy = x.clone().narrow(2, 1, h - 1) - x.clone().narrow(2, 0, h - 1);
        let dx = x.clone().narrow(3, 1, w - 1) - x.narrow(3, 0, w - 1);
        Ok(dy.abs().mean() + dx.abs().mean())
    })
}

/// Half the mean squared difference between the image and a (constant) 3x3 blur of it: a
/// penalty that pulls the image towards its blur (subtract it). Text: `blur`.
pub fn blur() -> Objective {
    Objective::new(Vec::new(), "blur", |acts| {
        let x = acts.get(INPUT)?;
        let options = AvgPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1]);
        let blurred = avg_pool2d(x.clone().detach(), options);
        let d = x - blurred;
        Ok((d.clone() * d).mean() * 0.5)
    })
}
