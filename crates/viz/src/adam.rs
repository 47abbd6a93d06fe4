//! Adam on a single tensor (the image parameter).

use burn::tensor::Tensor;

/// Adam's state for one parameter tensor.
#[derive(Debug)]
pub struct Adam {
    learning_rate: f32,
    beta1: f32,
    beta2: f32,
    epsilon: f32,
    step: i32,
    moments: Option<(Tensor<5>, Tensor<5>)>,
}

impl Adam {
    /// Adam with betas (0.9, 0.999) and epsilon 1e-8, as Lucid's TensorFlow optimiser.
    pub fn new(learning_rate: f32) -> Self {
        Self {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            step: 0,
            moments: None,
        }
    }

    /// One descent step of `param` along `grad` (negate the objective to ascend).
    ///
    /// # Shapes
    /// - param, grad and output: the same `[any; 5]`
    pub fn step(&mut self, param: Tensor<5>, grad: Tensor<5>) -> Tensor<5> {
        self.step += 1;
        let (m, v) = match self.moments.take() {
            Some((m, v)) => (
                m * self.beta1 + grad.clone() * (1.0 - self.beta1),
                v * self.beta2 + grad.clone() * grad * (1.0 - self.beta2),
            ),
            None => (
                grad.clone() * (1.0 - self.beta1),
                grad.clone() * grad * (1.0 - self.beta2),
            ),
        };
        let m_hat = 1.0 - self.beta1.powi(self.step);
        let v_hat = 1.0 - self.beta2.powi(self.step);
        let update = (m.clone() / m_hat) / ((v.clone() / v_hat).sqrt() + self.epsilon);
        self.moments = Some((m, v));
        param - update * self.learning_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn first_step_moves_by_the_learning_rate() {
        let device = Device::flex();
        let p = Tensor::<5>::from_data(
            TensorData::new(vec![1.0f32, -2.0], [1, 1, 1, 1, 2]),
            &device,
        );
        let g = Tensor::<5>::from_data(
            TensorData::new(vec![0.3f32, -5.0], [1, 1, 1, 1, 2]),
            &device,
        );
        let mut adam = Adam::new(0.05);
        let out = adam.step(p, g).into_data().try_to_vec::<f32>().unwrap();
        assert!(
            (out[0] - 0.95).abs() < 1e-5 && (out[1] + 1.95).abs() < 1e-5,
            "{out:?}"
        );
    }

    #[test]
    fn minimises_a_quadratic() {
        let device = Device::flex();
        let mut p = Tensor::<5>::from_data(TensorData::new(vec![3.0f32], [1, 1, 1, 1, 1]), &device);
        let mut adam = Adam::new(0.1);
        for _ in 0..300 {
            let g = p.clone() * 2.0;
            p = adam.step(p, g);
        }
        assert!(p.into_scalar::<f32>().abs() < 0.05);
    }
}
