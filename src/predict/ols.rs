//! Ordinary least squares with an intercept, by Householder QR with a rank check, and its
//! leave-one-out residuals by the hat-matrix shortcut `e_i / (1 - h_ii)`.

use super::linalg::{lstsq_qr, Mat};

/// Errors of an OLS fit.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OlsError {
    /// Fewer rows than coefficients, or collinear columns.
    #[error("OLS design with {rows} rows and {cols} columns (plus intercept) is rank deficient")]
    RankDeficient {
        /// Rows of the design.
        rows: usize,
        /// Columns of the design, without the intercept.
        cols: usize,
    },
}

/// A fitted OLS model `y = intercept + x . coef`.
#[derive(Debug, Clone, PartialEq)]
pub struct OlsFit {
    /// Intercept.
    pub intercept: f64,
    /// One coefficient per column of `x`.
    pub coef: Vec<f64>,
    /// In-sample residuals `y - fitted`.
    pub residuals: Vec<f64>,
    /// Leverages (diagonal of the hat matrix), one per row.
    pub leverage: Vec<f64>,
}

impl OlsFit {
    /// Residual sum of squares.
    pub fn rss(&self) -> f64 {
        self.residuals.iter().map(|e| e * e).sum()
    }

    /// In-sample root mean squared error `sqrt(RSS / n)`.
    pub fn rmse(&self) -> f64 {
        (self.rss() / self.residuals.len() as f64).sqrt()
    }
}

/// Fit OLS with an intercept to `x` (n x p) and `y`.
pub fn fit(x: &Mat, y: &[f64]) -> Result<OlsFit, OlsError> {
    let mut rows = Vec::with_capacity(x.rows);
    for i in 0..x.rows {
        let mut r = Vec::with_capacity(x.cols + 1);
        r.push(1.0);
        r.extend_from_slice(x.row(i));
        rows.push(r);
    }
    let a = Mat::from_rows(&rows);
    let err = OlsError::RankDeficient {
        rows: x.rows,
        cols: x.cols,
    };
    if x.rows == 0 {
        return Err(err);
    }
    let res = lstsq_qr(&a, y).ok_or(err)?;
    let fitted = a.mul_vec(&res.coef);
    let residuals = y.iter().zip(&fitted).map(|(a, b)| a - b).collect();
    Ok(OlsFit {
        intercept: res.coef[0],
        coef: res.coef[1..].to_vec(),
        residuals,
        leverage: res.leverage,
    })
}

/// Leave-one-out residuals `y_i - yhat_{-i}(x_i)` by the hat-matrix shortcut
/// `e_i / (1 - h_ii)`, from a single fit on all rows.
pub fn loo_residuals(x: &Mat, y: &[f64]) -> Result<Vec<f64>, OlsError> {
    let f = fit(x, y)?;
    Ok(f.residuals
        .iter()
        .zip(&f.leverage)
        .map(|(e, h)| e / (1.0 - h))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ols_fits_a_line_through_three_collinear_points_exactly() {
        let x = Mat::from_rows(&[vec![0.0], vec![1.0], vec![2.0]]);
        let f = fit(&x, &[1.0, 3.0, 5.0]).unwrap();
        assert!((f.intercept - 1.0).abs() < 1e-12);
        assert!((f.coef[0] - 2.0).abs() < 1e-12);
        assert!(f.rss() < 1e-24);
    }

    #[test]
    fn loo_shortcut_equals_explicit_refits() {
        let x = Mat::from_rows(&[
            vec![0.1, 2.0],
            vec![1.3, -1.0],
            vec![2.2, 0.5],
            vec![3.1, 1.5],
            vec![4.7, -0.3],
            vec![5.0, 2.2],
            vec![6.4, 0.0],
        ]);
        let y = [1.0, 2.5, 2.9, 4.4, 5.1, 7.3, 6.8];
        let fast = loo_residuals(&x, &y).unwrap();
        for i in 0..y.len() {
            let keep: Vec<usize> = (0..y.len()).filter(|&j| j != i).collect();
            let xt = x.select_rows(&keep);
            let yt: Vec<f64> = keep.iter().map(|&j| y[j]).collect();
            let f = fit(&xt, &yt).unwrap();
            let pred = f.intercept
                + x.row(i)
                    .iter()
                    .zip(&f.coef)
                    .map(|(a, b)| a * b)
                    .sum::<f64>();
            assert!((fast[i] - (y[i] - pred)).abs() < 1e-10, "row {i}");
        }
    }

    #[test]
    fn ols_refuses_more_coefficients_than_rows() {
        let x = Mat::from_rows(&[vec![1.0, 2.0], vec![2.0, 1.0]]);
        assert!(fit(&x, &[1.0, 2.0]).is_err());
    }
}
