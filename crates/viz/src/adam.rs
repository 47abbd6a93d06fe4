//! Adam and NAdam on a single tensor (the image parameter).

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
    /// NAdam (Dozat 2016, as PyTorch implements it): Nesterov momentum with the momentum
    /// decay 0.004; the running product of the momentum coefficients.
    nesterov: Option<f64>,
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
            nesterov: None,
        }
    }

    /// NAdam with betas (0.9, 0.999), epsilon 1e-8 and momentum decay 0.004: PyTorch's
    /// `NAdam` defaults, which MACO uses (at learning rate 1.0).
    pub fn nadam(learning_rate: f32) -> Self {
        Self {
            nesterov: Some(1.0),
            ..Self::new(learning_rate)
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
                v * self.beta2 + grad.clone() * grad.clone() * (1.0 - self.beta2),
            ),
            None => (
                grad.clone() * (1.0 - self.beta1),
                grad.clone() * grad.clone() * (1.0 - self.beta2),
            ),
        };
        let v_hat = 1.0 - self.beta2.powi(self.step);
        let denominator = (v.clone() / v_hat).sqrt() + self.epsilon;
        let update = match self.nesterov {
            None => {
                let m_hat = 1.0 - self.beta1.powi(self.step);
                (m.clone() / m_hat) / denominator
            }
            Some(product) => {
                let beta1 = f64::from(self.beta1);
                let mu = |t: i32| beta1 * (1.0 - 0.5 * 0.96f64.powf(f64::from(t) * 0.004));
                let (now, next) = (mu(self.step), mu(self.step + 1));
                let product = product * now;
                self.nesterov = Some(product);
                let g_weight = ((1.0 - now) / (1.0 - product)) as f32;
                let m_weight = (next / (1.0 - product * next)) as f32;
                (grad * g_weight + m.clone() * m_weight) / denominator
            }
        };
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
    fn nadam_matches_pytorch_on_two_steps() {
        // torch.optim.NAdam([p], lr=0.1) on p = 1 with gradients 0.5 then -0.25 gives
        // 0.8943548 then 0.9354658 (PyTorch 2.15).
        let device = Device::flex();
        let mut p = Tensor::<5>::from_data(TensorData::new(vec![1.0f32], [1, 1, 1, 1, 1]), &device);
        let mut nadam = Adam::nadam(0.1);
        let g = |v: f32| Tensor::<5>::from_data(TensorData::new(vec![v], [1, 1, 1, 1, 1]), &device);
        p = nadam.step(p, g(0.5));
        let first = p.clone().into_scalar::<f32>();
        p = nadam.step(p, g(-0.25));
        let second = p.into_scalar::<f32>();
        assert!((first - 0.894_354_8).abs() < 1e-5, "{first}");
        assert!((second - 0.935_465_8).abs() < 1e-5, "{second}");
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
