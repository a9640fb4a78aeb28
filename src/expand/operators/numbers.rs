//! Numeric operators: `eval`, `eval10`, `randint`.

use rand::Rng;

use crate::error::{ExpResult, ExpandError};
use crate::expand::eval::Eval;
use crate::expand::operators::cstr;
use crate::expand::operators::{push_decimal, Input};

/// Deepest parenthesis / unary-operator nesting accepted (Exim has no limit; rexim
/// refuses rather than exhaust the stack).
const MAX_NESTING: u32 = 1000;

struct Expr<'a> {
    s: &'a [u8],
    pos: usize,
    decimal: bool,
    err: Option<&'static str>,
    depth: u32,
}

impl Expr<'_> {
    fn at(&self, i: usize) -> u8 {
        self.s.get(i).copied().unwrap_or(0)
    }

    fn cur(&self) -> u8 {
        self.at(self.pos)
    }

    fn skip_ws(&mut self) {
        while matches!(self.cur(), b' ' | b'\t'..=b'\r') {
            self.pos += 1;
        }
    }

    fn nest(&mut self) -> bool {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            self.err = Some("expression nested too deeply");
            return false;
        }
        true
    }

    fn expr(&mut self, endket: bool) -> i64 {
        let x = self.binary(0);
        if self.err.is_none() {
            if endket {
                if self.cur() != b')' {
                    self.err = Some("expecting closing parenthesis");
                } else {
                    self.pos += 1;
                    self.skip_ws();
                }
            } else if self.cur() != 0 {
                self.err = Some("expecting operator");
            }
        }
        x
    }

    /// `sscanf("%lli")` / `"%lld"`: saturating, with `0x` hex and `0` octal unless decimal.
    fn scan(&mut self) -> i64 {
        let mut radix = 10;
        if !self.decimal && self.cur() == b'0' {
            if matches!(self.at(self.pos + 1), b'x' | b'X') {
                radix = 16;
                self.pos += 2;
            } else {
                radix = 8;
            }
        }
        let mut n: i64 = 0;
        let mut over = false;
        if radix == 10 {
            // Decimal digits without the generic digit conversion; up to 18 cannot overflow.
            let start = self.pos;
            while self.cur().is_ascii_digit() && self.pos - start < 18 {
                n = n * 10 + i64::from(self.cur() - b'0');
                self.pos += 1;
            }
        }
        while let Some(d) = (self.cur() as char).to_digit(radix) {
            match n
                .checked_mul(i64::from(radix))
                .and_then(|v| v.checked_add(i64::from(d)))
            {
                Some(v) => n = v,
                None => over = true,
            }
            self.pos += 1;
        }
        if over {
            i64::MAX
        } else {
            n
        }
    }

    fn number(&mut self) -> i64 {
        self.skip_ws();
        let c = self.cur();
        if c.is_ascii_digit() {
            let mut n = self.scan();
            let mult = match self.cur().to_ascii_lowercase() {
                b'k' => 1024,
                b'm' => 1024 * 1024,
                b'g' => 1024 * 1024 * 1024,
                _ => 1,
            };
            if mult != 1 {
                n = n.wrapping_mul(mult);
                self.pos += 1;
            }
            self.skip_ws();
            n
        } else if c == b'(' {
            self.pos += 1;
            if !self.nest() {
                return 0;
            }
            let n = self.expr(true);
            self.depth -= 1;
            n
        } else {
            self.err = Some("expecting number or opening parenthesis");
            0
        }
    }

    fn unary(&mut self) -> i64 {
        self.skip_ws();
        let op = self.cur();
        if matches!(op, b'+' | b'-' | b'~') {
            self.pos += 1;
            if !self.nest() {
                return 0;
            }
            let x = self.unary();
            self.depth -= 1;
            match op {
                b'-' => x.wrapping_neg(),
                b'~' => !x,
                _ => x,
            }
        } else {
            self.number()
        }
    }

    /// The binary operator at the cursor: its C precedence level (`|` lowest, then
    /// `^`, `&`, shifts, `+ -`, `* / %`), byte and length.
    fn operator(&self) -> Option<(u8, u8, usize)> {
        let c = self.cur();
        let level = match c {
            b'|' => 0,
            b'^' => 1,
            b'&' => 2,
            b'<' | b'>' if self.at(self.pos + 1) == c => return Some((3, c, 2)),
            b'+' | b'-' => 4,
            b'*' | b'/' | b'%' => 5,
            _ => return None,
        };
        Some((level, c, 1))
    }

    /// Operators of level `min` and above, left to right (precedence climbing: the
    /// same reading order, results and error positions as one function per level).
    fn binary(&mut self, min: u8) -> i64 {
        let mut x = self.unary();
        while self.err.is_none() {
            let Some((level, op, len)) = self.operator().filter(|o| o.0 >= min) else {
                break;
            };
            self.pos += len;
            let y = if level == 5 {
                self.unary()
            } else {
                self.binary(level + 1)
            };
            if self.err.is_some() {
                break;
            }
            x = match self.apply(op, x, y) {
                Some(v) => v,
                None => return 0,
            };
        }
        x
    }

    /// `x op y` with Exim's overflow and division rules; `None` after an error.
    fn apply(&mut self, op: u8, x: i64, y: i64) -> Option<i64> {
        Some(match op {
            b'*' => x.wrapping_mul(y),
            b'/' | b'%' if y == -1 && x == i64::MIN => i64::MAX,
            b'/' | b'%' if y == 0 => {
                self.err = Some(if op == b'/' {
                    "divide by zero"
                } else {
                    "modulo by zero"
                });
                return None;
            }
            b'/' => x.wrapping_div(y),
            b'%' => x.wrapping_rem(y),
            b'+' | b'-' => {
                // Exim's (buggy, over-conservative) check: the left operand alone decides upwards.
                let half = i64::MAX / 2;
                if x >= half || (x <= -half && y <= -half) {
                    self.err = Some(if op == b'+' {
                        "overflow in sum"
                    } else {
                        "overflow in difference"
                    });
                    return None;
                }
                if op == b'+' {
                    x.wrapping_add(y)
                } else {
                    x.wrapping_sub(y)
                }
            }
            b'<' => x.wrapping_shl(y as u32),
            b'>' => x.wrapping_shr(y as u32),
            b'&' => x & y,
            b'^' => x ^ y,
            _ => x | y,
        })
    }
}

fn evaluate(v: Input, decimal: bool, out: &mut Vec<u8>) -> ExpResult<bool> {
    let s = cstr(v.bytes);
    let mut e = Expr {
        s,
        pos: 0,
        decimal,
        err: None,
        depth: 0,
    };
    let n = e.expr(false);
    match e.err {
        None => {
            push_decimal(out, n);
            Ok(false)
        }
        Some(msg) => Err(ExpandError::hard(format!(
            "error in expression evaluation: {msg} (after processing \"{}\")",
            String::from_utf8_lossy(&s[..e.pos.min(s.len())])
        ))),
    }
}

/// `${eval:(1+2)*0x10}` gives `48` (64-bit signed arithmetic, C operators).
pub fn eval(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    evaluate(v, false, out)
}

/// `${eval10:010+1}` gives `11`: as `eval`, but every number is decimal.
pub fn eval10(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    evaluate(v, true, out)
}

/// Exim's `expanded_string_integer`: decimal with optional `k`/`m`/`g`; blank is 0.
pub fn string_integer(s: &[u8], non_negative: bool) -> Result<i64, String> {
    let mut i = 0;
    while s
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
    {
        i += 1;
    }
    if i > 0 && i == s.len() {
        return Ok(0);
    }
    let t = &s[i..];
    let shown = String::from_utf8_lossy(t);
    let mut j = 0;
    let neg = match t.first() {
        Some(b'-') => {
            j = 1;
            true
        }
        Some(b'+') => {
            j = 1;
            false
        }
        _ => false,
    };
    let start = j;
    let mut over = false;
    let mut n: i64 = 0;
    while let Some(c) = t.get(j).filter(|c| c.is_ascii_digit()) {
        let d = i64::from(c - b'0');
        let next = n.checked_mul(10).and_then(|v| {
            if neg {
                v.checked_sub(d)
            } else {
                v.checked_add(d)
            }
        });
        match next {
            Some(v) => n = v,
            None => over = true,
        }
        j += 1;
    }
    if j == start {
        return Err(format!("integer expected but \"{shown}\" found"));
    }
    if over {
        n = if neg { i64::MIN } else { i64::MAX };
    }
    if n < 0 && non_negative {
        return Err(format!(
            "non-negative integer expected but \"{shown}\" found"
        ));
    }
    let mult: i64 = match t.get(j).map(u8::to_ascii_lowercase) {
        Some(b'k') => 1024,
        Some(b'm') => 1024 * 1024,
        Some(b'g') => 1024 * 1024 * 1024,
        _ => 1,
    };
    if mult != 1 {
        j += 1;
        match n.checked_mul(mult) {
            Some(v) => n = v,
            _ => over = true,
        }
    }
    if over {
        return Err(format!(
            "absolute value of integer \"{shown}\" is too large (overflow)"
        ));
    }
    if t[j..]
        .iter()
        .all(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
    {
        Ok(n)
    } else {
        Err(format!("invalid integer \"{shown}\""))
    }
}

/// `${randint:10}` gives a number from 0 to 9 (`0` when the limit is 0 or 1).
pub fn randint(_: &mut Eval, _: Option<&str>, v: Input, out: &mut Vec<u8>) -> ExpResult<bool> {
    let max = string_integer(cstr(v.bytes), true).map_err(ExpandError::hard)? as i32;
    let n = if max <= 1 {
        0
    } else {
        rand::thread_rng().gen_range(0..max)
    };
    push_decimal(out, i64::from(n));
    Ok(false)
}
