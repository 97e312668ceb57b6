//! Output: a readable table per scenario, or one JSON object per line with `--json`.

use std::fmt::Write as _;
use std::time::Duration;

/// One figure of a scenario, with its target when docs/performance.md sets one.
pub struct Figure {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
    /// `Some((limit, higher_is_better))`.
    pub target: Option<(f64, bool)>,
}

impl Figure {
    pub fn new(name: &'static str, value: f64, unit: &'static str) -> Figure {
        Figure {
            name,
            value,
            unit,
            target: None,
        }
    }

    /// The figure must be at least `limit`.
    pub fn at_least(mut self, limit: f64) -> Figure {
        self.target = Some((limit, true));
        self
    }

    /// The figure must be at most `limit` (an infinite limit sets no target).
    pub fn at_most(mut self, limit: f64) -> Figure {
        if limit.is_finite() {
            self.target = Some((limit, false));
        }
        self
    }

    pub fn met(&self) -> Option<bool> {
        self.target.map(|(limit, higher)| {
            if higher {
                self.value >= limit
            } else {
                self.value <= limit
            }
        })
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Prints a scenario's figures; returns whether every target was met.
pub fn print(scenario: &str, backend: &str, about: &str, figures: &[Figure], json: bool) -> bool {
    let all_met = figures.iter().all(|f| f.met() != Some(false));
    if json {
        let mut line = format!("{{\"scenario\":\"{scenario}\",\"backend\":\"{backend}\"");
        for f in figures {
            let _ = write!(line, ",\"{}\":{}", f.name, round(f.value));
            if let Some(met) = f.met() {
                let _ = write!(line, ",\"{}_met\":{met}", f.name);
            }
        }
        let _ = write!(line, ",\"targets_met\":{all_met}}}");
        println!("{line}");
        return all_met;
    }
    println!("{scenario} ({backend}): {about}");
    for f in figures {
        let target = match f.target {
            Some((limit, true)) => format!("target ≥ {}", human(limit)),
            Some((limit, false)) => format!("target ≤ {}", human(limit)),
            None => String::new(),
        };
        let mark = match f.met() {
            Some(true) => "met",
            Some(false) => "NOT MET",
            None => "",
        };
        println!(
            "  {:<34} {:>14} {:<12} {:<20} {}",
            f.name,
            human(f.value),
            f.unit,
            target,
            mark
        );
    }
    all_met
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn human(v: f64) -> String {
    if v >= 1000.0 {
        let s = format!("{:.0}", v);
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}
