//! The dashboard's chart: decisions per time bucket as stacked bars (allowed, would-block,
//! blocked, tempfail, unverified from the bottom), with a y axis of 1/2/5 × 10^k steps and
//! a time axis. [`Chart::build`] does the geometry; `assets/ui/templates/chart.svg` draws it.

use std::fmt;

use askama::Template;

use super::range::Range;
use crate::analysis::aggregate::OutcomeCounts;
use crate::analysis::time::format_minute;

/// The chart's series, bottom to top: name, CSS class, colour.
/// The last two are shown in the legend only when they happened.
pub(crate) const SERIES: [(&str, &str, &str); 5] = [
    ("allowed", "allowed", "#2f9e62"),
    ("would-block", "would-block", "#e3a008"),
    ("blocked", "blocked", "#d9463e"),
    ("tempfail", "tempfail", "#8b95a5"),
    ("unverified", "unverified", "#b9a3e3"),
];

const W: f64 = 960.0;
const H: f64 = 280.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 46.0;
const TICKS: u64 = 4;
const PLOT_W: f64 = W - LEFT - RIGHT;
const PLOT_H: f64 = H - TOP - BOTTOM;
const BASE: f64 = TOP + PLOT_H;

/// A coordinate as the SVG shows it: one decimal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Coord(pub f64);

impl fmt::Display for Coord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1}", self.0)
    }
}

/// A horizontal grid line with its value on the y axis.
#[derive(Debug)]
pub(crate) struct GridLine {
    pub y: Coord,
    pub label_y: Coord,
    pub value: u64,
}

/// One series' part of a bar.
#[derive(Debug)]
pub(crate) struct Bar {
    pub class: &'static str,
    pub color: &'static str,
    pub y: Coord,
    pub height: Coord,
}

/// A labelled tick on the time axis.
#[derive(Debug)]
pub(crate) struct Tick {
    pub x: Coord,
    pub label: String,
}

/// One time bucket: its tooltip, its hover target, its stacked bars, maybe a tick.
#[derive(Debug)]
pub(crate) struct Bucket {
    pub title: String,
    pub slot_x: Coord,
    pub bar_x: Coord,
    pub bars: Vec<Bar>,
    pub tick: Option<Tick>,
}

/// Everything the chart template draws.
#[derive(Debug)]
pub(crate) struct Chart {
    pub bucket_text: &'static str,
    pub grid: Vec<GridLine>,
    pub buckets: Vec<Bucket>,
    pub slot: Coord,
    pub bar_w: Coord,
    /// No decision in the whole range.
    pub empty: bool,
    /// Each series' sum over the range (in [`SERIES`] order).
    pub sums: [u64; 5],
}

/// The chart drawn as SVG.
#[derive(Debug, Template)]
#[template(path = "chart.svg")]
pub(crate) struct ChartSvg<'a> {
    pub chart: &'a Chart,
}

impl ChartSvg<'_> {
    // The fixed geometry, for the template.
    fn right(&self) -> Coord {
        Coord(W - RIGHT)
    }
    fn tick_x(&self) -> Coord {
        Coord(LEFT - 8.0)
    }
    fn plot_h(&self) -> Coord {
        Coord(PLOT_H)
    }
    fn base(&self) -> Coord {
        Coord(BASE)
    }
    fn base_below(&self, by: f64) -> Coord {
        Coord(BASE + by)
    }
    fn mid_x(&self) -> Coord {
        Coord(LEFT + PLOT_W / 2.0)
    }
    fn mid_y(&self) -> Coord {
        Coord(TOP + PLOT_H / 2.0)
    }
    fn title_y(&self) -> Coord {
        Coord(H - 8.0)
    }
}

fn series_values(c: &OutcomeCounts) -> [u64; 5] {
    [
        c.allowed,
        c.would_block,
        c.blocked,
        c.tempfail,
        c.unverified,
    ]
}

/// The smallest step of 1, 2 or 5 × 10^k with `ticks` steps reaching `max`.
pub(crate) fn nice_step(max: u64, ticks: u64) -> u64 {
    let raw = max.div_ceil(ticks).max(1);
    let mut magnitude = 1u64;
    while magnitude.saturating_mul(10) <= raw {
        magnitude *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw)
}

/// A bucket's tooltip: its start, its total and each outcome.
fn bucket_title(start: u64, v: &[u64; 5]) -> String {
    let total: u64 = v.iter().sum();
    let mut title = format!(
        "{} UTC: {total} logins — allowed {}, blocked {}, would-block {}",
        format_minute(start),
        v[0],
        v[2],
        v[1]
    );
    if v[3] > 0 {
        title.push_str(&format!(", tempfail {}", v[3]));
    }
    if v[4] > 0 {
        title.push_str(&format!(", unverified {}", v[4]));
    }
    title
}

impl Chart {
    /// The stacked bar chart of `buckets` (start, counts) over `range` ending `now`.
    pub(crate) fn build(buckets: &[(u64, OutcomeCounts)], range: Range, now: u64) -> Chart {
        let width = range.bucket_us();
        let first = range.since_us(now) / width;
        let last = (now / width).max(first);
        let n = (last - first + 1) as usize;
        let mut values = vec![[0u64; 5]; n];
        for (start, c) in buckets {
            let b = start / width;
            if (first..=last).contains(&b) {
                values[(b - first) as usize] = series_values(c);
            }
        }
        let mut sums = [0u64; 5];
        for v in &values {
            for (s, x) in sums.iter_mut().zip(v) {
                *s += x;
            }
        }
        let max = values
            .iter()
            .map(|v| v.iter().sum::<u64>())
            .max()
            .unwrap_or(0);
        let step = nice_step(max, TICKS);
        let y_max = step * TICKS;
        let grid = (0..=TICKS)
            .map(|k| {
                let y = BASE - PLOT_H * k as f64 / TICKS as f64;
                GridLine {
                    y: Coord(y),
                    label_y: Coord(y + 4.0),
                    value: step * k,
                }
            })
            .collect();
        let slot = PLOT_W / n as f64;
        let bar_w = (slot * 0.72).max(1.0);
        let every = n.div_ceil(8).max(1);
        let buckets = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let start = (first + i as u64) * width;
                let mut y = BASE;
                let bars = SERIES
                    .iter()
                    .zip(v)
                    .filter(|(_, count)| **count > 0)
                    .map(|((_, class, color), count)| {
                        let h = PLOT_H * *count as f64 / y_max as f64;
                        y -= h;
                        Bar {
                            class,
                            color,
                            y: Coord(y),
                            height: Coord(h),
                        }
                    })
                    .collect();
                Bucket {
                    title: bucket_title(start, v),
                    slot_x: Coord(LEFT + slot * i as f64),
                    bar_x: Coord(LEFT + slot * i as f64 + (slot - bar_w) / 2.0),
                    bars,
                    tick: (i % every == 0).then(|| Tick {
                        x: Coord(LEFT + slot * (i as f64 + 0.5)),
                        label: range.label(start),
                    }),
                }
            })
            .collect();
        Chart {
            bucket_text: range.bucket_text(),
            grid,
            buckets,
            slot: Coord(slot),
            bar_w: Coord(bar_w),
            empty: max == 0,
            sums,
        }
    }

    /// The legend's entries: name, CSS class, sum (tempfail and unverified only when they
    /// happened).
    pub(crate) fn legend(&self) -> Vec<(&'static str, &'static str, u64)> {
        SERIES
            .iter()
            .zip(self.sums)
            .enumerate()
            .filter(|(i, (_, sum))| *i < 3 || *sum > 0)
            .map(|(_, ((name, class, _), sum))| (*name, *class, sum))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0, 4), 1);
        assert_eq!(nice_step(3, 4), 1);
        assert_eq!(nice_step(5, 4), 2);
        assert_eq!(nice_step(17, 4), 5);
        assert_eq!(nice_step(40, 4), 10);
        assert_eq!(nice_step(41, 4), 20);
        assert_eq!(nice_step(999, 4), 500);
    }

    fn draw(chart: &Chart) -> String {
        ChartSvg { chart }.render().expect("render the chart")
    }

    #[test]
    fn the_chart_stacks_each_bucket() {
        let now = 1_764_245_400 * 1_000_000;
        let hour = Range::Day.bucket_us();
        let this = now / hour * hour;
        let buckets = vec![
            (
                this - 2 * hour,
                OutcomeCounts {
                    allowed: 3,
                    blocked: 1,
                    would_block: 2,
                    tempfail: 0,
                    unverified: 3,
                },
            ),
            (
                this,
                OutcomeCounts {
                    allowed: 1,
                    ..OutcomeCounts::default()
                },
            ),
            // Outside the range: ignored.
            (
                this - 48 * hour,
                OutcomeCounts {
                    blocked: 100,
                    ..OutcomeCounts::default()
                },
            ),
        ];
        let chart = Chart::build(&buckets, Range::Day, now);
        let svg = draw(&chart);
        assert_eq!(chart.sums, [4, 2, 1, 0, 3]);
        assert_eq!(svg.matches("<rect class=\"bar ").count(), 5);
        assert!(svg.contains("class=\"bar unverified\""));
        assert_eq!(svg.matches("<g class=\"bucket\">").count(), 24);
        assert!(svg.contains("class=\"bar blocked\""));
        assert!(svg.contains("class=\"bar would-block\""));
        assert!(svg.contains("time (UTC)"));
        assert!(!svg.contains("no decisions"));
        let empty = draw(&Chart::build(&[], Range::Hour, now));
        assert!(empty.contains("no decisions in this range"));
        assert_eq!(empty.matches("<g class=\"bucket\">").count(), 12);
        let legend: Vec<_> = chart.legend().iter().map(|(name, _, _)| *name).collect();
        assert_eq!(
            legend,
            ["allowed", "would-block", "blocked", "unverified"],
            "tempfail never happened"
        );
    }
}
