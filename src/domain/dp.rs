//! The noise of what third-party apps receive: OpenDP's discrete Laplace mechanism
//! (`opendp::measurements::make_laplace` over integer vectors, L1 sensitivity), calibrated
//! so that one question costs at most its ε. Nothing here samples by hand: the mechanism,
//! its sampler and its privacy map are OpenDP's.
//!
//! OpenDP draws from a CSPRNG that cannot be seeded (by design), so the same question would
//! get fresh noise every time it is asked; [`super::privacy_budget`] therefore keeps the
//! first answer to every question and gives it again.
use anyhow::anyhow;
use opendp::{
    domains::{AtomDomain, VectorDomain},
    measurements::make_laplace,
    measures::MaxDivergence,
    metrics::L1Distance,
};

use crate::error::{AppError, AppResult};

/// A count as an app receives it: the exact count plus noise, and the noise's standard
/// deviation (0: exact).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Noisy {
    pub value: i64,
    pub std_dev: f64,
}

/// How much noise a question needs: the L1 sensitivity of its vector per unit of privacy
/// (how far one view, one like or one account can move the whole vector) and the ε it may
/// cost.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    pub sensitivity: u32,
    pub epsilon: f64,
}

/// `exact` with independent discrete Laplace noise on every entry, at the scale that makes
/// releasing the whole vector `calibration.epsilon`-differentially private for changes of
/// L1 norm up to `calibration.sensitivity` (OpenDP's privacy map checks it).
pub fn laplace(exact: &[i64], calibration: Calibration) -> AppResult<Vec<Noisy>> {
    let Calibration {
        sensitivity,
        epsilon,
    } = calibration;
    if sensitivity == 0 || !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(AppError::internal(anyhow!(
            "no calibration for sensitivity {sensitivity} and ε {epsilon}"
        )));
    }
    let d_in = i64::from(sensitivity);
    let mut scale = f64::from(sensitivity) / epsilon;
    // Δ/ε in floating point may round below the exact quotient; OpenDP's map rounds the
    // loss up. Widen the scale until the map says the release costs no more than ε.
    let mechanism = loop {
        let m = make_laplace::<_, _, MaxDivergence>(
            VectorDomain::new(AtomDomain::<i64>::default()),
            L1Distance::<i64>::default(),
            scale,
            None,
        )
        .map_err(opendp_error)?;
        if m.map(&d_in).map_err(opendp_error)? <= epsilon {
            break m;
        }
        scale = scale.next_up();
    };
    let noisy = mechanism.invoke(&exact.to_vec()).map_err(opendp_error)?;
    let std_dev = discrete_laplace_std_dev(scale);
    Ok(noisy
        .into_iter()
        .map(|value| Noisy { value, std_dev })
        .collect())
}

/// The standard deviation of the discrete Laplace distribution of `scale` (P(k) ∝
/// exp(−|k| / scale) on the integers): √(2α) / (1 − α) with α = exp(−1 / scale).
pub fn discrete_laplace_std_dev(scale: f64) -> f64 {
    let alpha = (-1.0 / scale).exp();
    (2.0 * alpha).sqrt() / (1.0 - alpha)
}

fn opendp_error(e: opendp::error::Error) -> AppError {
    AppError::internal(anyhow!("OpenDP: {e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_deviation_is_the_discrete_laplace_one() {
        // Scale 1: α = 1/e, variance 2α / (1 − α)² ≈ 1.8413.
        let sd = discrete_laplace_std_dev(1.0);
        assert!((sd * sd - 1.841_34).abs() < 1e-4, "{sd}");
        // Wide scales approach the continuous Laplace's √2 × scale.
        let sd = discrete_laplace_std_dev(100.0);
        assert!((sd / (100.0 * 2f64.sqrt()) - 1.0).abs() < 1e-3, "{sd}");
    }

    #[test]
    fn noise_is_added_to_every_entry_and_costs_at_most_epsilon() {
        let exact = vec![1_000_i64; 4_000];
        let noisy = laplace(
            &exact,
            Calibration {
                sensitivity: 4,
                epsilon: 1.0,
            },
        )
        .expect("noise");
        assert_eq!(noisy.len(), exact.len());
        let sd = noisy[0].std_dev;
        assert!((sd - discrete_laplace_std_dev(4.0)).abs() < 1e-9, "{sd}");
        let var = noisy
            .iter()
            .map(|n| ((n.value - 1_000) as f64).powi(2))
            .sum::<f64>()
            / exact.len() as f64;
        // 4,000 draws: the variance's relative standard error is about 4 %.
        assert!((var / (sd * sd) - 1.0).abs() < 0.2, "{var} vs {}", sd * sd);
        assert!(noisy.iter().any(|n| n.value != 1_000), "noise was added");
    }

    #[test]
    fn a_missing_calibration_is_refused() {
        let bad = Calibration {
            sensitivity: 0,
            epsilon: 1.0,
        };
        assert!(laplace(&[1], bad).is_err());
        let bad = Calibration {
            sensitivity: 1,
            epsilon: 0.0,
        };
        assert!(laplace(&[1], bad).is_err());
    }
}
