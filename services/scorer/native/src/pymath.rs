//! Python's float arithmetic, reproduced operation by operation.
//!
//! The Python store's features come out of CPython's own float code
//! (`Objects/floatobject.c`, `Modules/mathmodule.c`); Rust's operators differ
//! from it in corner cases (`%` is C `fmod`, not Python's sign-following
//! modulo; `pow(x, 2.0)` may be folded into `x * x`). Every helper here follows
//! the CPython source step by step so the results are the same bits.

use std::hint::black_box;

use crate::error::Error;

/// C `fmod(x, y)`: the exact remainder `x - trunc(x / y) * y`, with the sign of `x`.
///
/// Rust's `%` is that function, but a bit-by-bit long division (compiler-builtins)
/// costing tens of nanoseconds, and the store takes several per event. For a
/// divisor that is a positive integer below 2**26 (the store's 60, 3600,
/// 86400 and 7) and `|x| < 2**52` it is computed directly, exactly:
/// `q = trunc(x / y)` is the true integer quotient or one more in magnitude
/// (rounding to nearest cannot fall below an integer the exact quotient
/// reaches, and cannot pass the next one); `q * y` is an integer below 2**53,
/// so exact; `x - q * y` is a multiple of `x`'s ulp smaller than `|x|` (or
/// `x` itself), so exact; and one `y` added back corrects an overshoot, exactly,
/// since the true remainder is representable. Being exact it is the same value
/// as `fmod`, and a zero gets `x`'s sign as `fmod` gives it. Anything else goes
/// to `%`.
#[inline]
pub fn fmod(x: f64, y: f64) -> f64 {
    const X_LIMIT: f64 = 4_503_599_627_370_496.0; // 2**52
    const Y_LIMIT: f64 = 67_108_864.0; // 2**26
    if !(y > 0.0 && y < Y_LIMIT && y.fract() == 0.0 && x.abs() < X_LIMIT) {
        return x % y;
    }
    let q = (x / y).trunc();
    let mut r = x - q * y;
    if x >= 0.0 {
        if r < 0.0 {
            r += y;
        }
    } else if r > 0.0 {
        r -= y;
    }
    if r == 0.0 {
        0.0_f64.copysign(x)
    } else {
        r
    }
}

/// `vx // wx` for floats: CPython's `_float_div_mod` (fmod, sign fix-up, then
/// the floor of the quotient with its snap to the nearest integer). `wx` is a
/// non-zero constant everywhere it is used.
pub fn floordiv(vx: f64, wx: f64) -> f64 {
    let modulo = fmod(vx, wx);
    let mut div = (vx - modulo) / wx;
    // C's `if (mod)`: NaN is true there, as it is for `!= 0.0`.
    if modulo != 0.0 && (wx < 0.0) != (modulo < 0.0) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floor = div.floor();
        if div - floor > 0.5 {
            floor += 1.0;
        }
        floor
    } else {
        // A zero quotient takes the sign of the true quotient.
        0.0_f64.copysign(vx / wx)
    }
}

/// `vx % wx` for floats: CPython's `float_rem` (the result has the divisor's sign).
pub fn rem(vx: f64, wx: f64) -> f64 {
    let modulo = fmod(vx, wx);
    if modulo != 0.0 {
        if (wx < 0.0) != (modulo < 0.0) {
            modulo + wx
        } else {
            modulo
        }
    } else {
        0.0_f64.copysign(wx)
    }
}

/// Python's `int(x)` of a float as an `i64`: truncation, with the errors
/// CPython raises for NaN and infinities, and an `OverflowError` outside the
/// int64 range (where Python would keep a big int that the store's `array("q")`
/// columns then refuse).
pub fn to_int(x: f64) -> Result<i64, Error> {
    if x.is_nan() {
        return Err(Error::Value("cannot convert float NaN to integer".into()));
    }
    if x.is_infinite() {
        return Err(Error::Overflow(
            "cannot convert float infinity to integer".into(),
        ));
    }
    // 2**63 is exact in f64; every finite value below it truncates into range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(-LIMIT..LIMIT).contains(&x) {
        return Err(Error::Overflow(
            "Python int too large to convert to C long".into(),
        ));
    }
    Ok(x as i64)
}

/// A bucket key `int(t // width)` to add at, from the quotient `q`.
///
/// Errors as [`to_int`], except below the int64 range: Python's big int there
/// is older than any ring's longest window, so the ring refuses it without
/// storing it (`add` returns `False`); `i64::MIN` is refused the same way.
pub fn bucket_key(q: f64) -> Result<i64, Error> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if q < -LIMIT {
        return Ok(i64::MIN);
    }
    to_int(q)
}

/// `int(x)` for a finite `x` used only in comparisons (a bucket key to look at,
/// not to store): clamped to the int64 range, which orders the same against
/// any stored key.
pub fn to_int_clamped(x: f64) -> i64 {
    // `as` truncates and saturates; callers pass finite values.
    x as i64
}

/// `float(int(x))`: truncation toward zero, and no negative zero (an int has none).
pub fn int_float(x: f64) -> Result<f64, Error> {
    to_int_check(x)?;
    Ok(x.trunc() + 0.0)
}

/// The errors `int(x)` raises for a non-finite float.
fn to_int_check(x: f64) -> Result<(), Error> {
    if x.is_nan() {
        Err(Error::Value("cannot convert float NaN to integer".into()))
    } else if x.is_infinite() {
        Err(Error::Overflow(
            "cannot convert float infinity to integer".into(),
        ))
    } else {
        Ok(())
    }
}

/// `max(a, b)` as Python evaluates it for two floats: `b` only if `b > a`.
#[inline]
pub fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// `min(a, b)` as Python evaluates it for two floats: `b` only if `b < a`.
#[inline]
pub fn py_min(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// CPython's `math_1` check: a NaN result from a non-NaN argument is a domain
/// error (`ValueError`); `math.sin`/`cos`/`sqrt` cannot overflow.
fn checked(x: f64, result: f64) -> Result<f64, Error> {
    if result.is_nan() && !x.is_nan() {
        Err(Error::Value("math domain error".into()))
    } else {
        Ok(result)
    }
}

/// `math.sin(x)` (libm `sin`).
pub fn sin(x: f64) -> Result<f64, Error> {
    checked(x, x.sin())
}

/// `math.cos(x)` (libm `cos`).
pub fn cos(x: f64) -> Result<f64, Error> {
    checked(x, x.cos())
}

/// `math.sqrt(x)`.
pub fn sqrt(x: f64) -> Result<f64, Error> {
    checked(x, x.sqrt())
}

/// `math.asin(x)` (libm `asin`).
pub fn asin(x: f64) -> Result<f64, Error> {
    checked(x, x.asin())
}

/// `math.radians(x)`: `x * (pi / 180)` with the constant rounded once, as CPython's `degToRad`.
#[inline]
pub fn radians(x: f64) -> f64 {
    const DEG_TO_RAD: f64 = std::f64::consts::PI / 180.0;
    x * DEG_TO_RAD
}

/// `x ** 2` for a finite or NaN float, as CPython's `float_pow` computes it: NaN
/// stays NaN, a negative base is made positive (the exponent is even), `1.0`
/// and `0.0` are answered directly, and anything else goes to libm `pow`.
///
/// The exponent goes through `black_box` so LLVM cannot turn `pow(x, 2.0)`
/// into `x * x`: the two may differ in the last bit, and CPython calls `pow`.
pub fn square_pow(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let base = if x < 0.0 { -x } else { x };
    if base == 1.0 {
        return 1.0;
    }
    if base == 0.0 {
        return 0.0;
    }
    base.powf(black_box(2.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift) for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// The fast path gives the bits of `%` (C fmod) on every kind of argument.
    #[test]
    fn fmod_is_c_fmod_bit_for_bit() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let divisors = [60.0, 3600.0, 86_400.0, 7.0, 1.0, 2.0, 3.0, 1e7];
        let check = |x: f64| {
            for y in divisors {
                let (a, b) = (fmod(x, y), x % y);
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "fmod({x:e}, {y}) = {a:e}, C gives {b:e}"
                );
            }
        };
        for x in [
            0.0,
            -0.0,
            f64::MIN_POSITIVE,
            5e-324,
            -5e-324,
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            9.007_199_254_740_993e15,
            1e300,
            -1e300,
        ] {
            check(x);
        }
        for _ in 0..2_000_000 {
            let r = rng.next();
            let x = match r % 6 {
                // Random bit patterns: every exponent, sign, NaN and infinity.
                0 => f64::from_bits(rng.next()),
                // Epoch-like times with fractions.
                1 => 1.7e9 + rng.unit() * 1e8,
                // Just around multiples of the divisors (where x / y rounds up).
                2 => {
                    let y = divisors[(rng.next() % divisors.len() as u64) as usize];
                    let k = (rng.next() % (1 << 40)) as f64;
                    let ulps = (rng.next() % 9) as i64 - 4;
                    f64::from_bits(((k * y).to_bits() as i64 + ulps) as u64)
                }
                3 => -(rng.unit() * 1e12),
                4 => (rng.unit() - 0.5) * 1e3,
                _ => rng.unit() * 4.5e15 * if r & 64 == 0 { 1.0 } else { -1.0 },
            };
            check(x);
        }
    }

    #[test]
    fn floordiv_matches_known_python_values() {
        assert_eq!(floordiv(-7.5, 2.0), -4.0);
        assert_eq!(rem(-7.5, 2.0), 0.5);
    }
}
