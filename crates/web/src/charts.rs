//! Charts drawn on the server as inline SVG: candlesticks with volume bars (trade page),
//! sparklines (markets list) and a value line (portfolio). Drawing on the server keeps the
//! pages readable without JavaScript and gives the live page one renderer: its script swaps in
//! a freshly drawn chart instead of drawing its own. Only numbers and catalog-formatted prices
//! go into the markup, and colours come from the stylesheet's classes (the CSP forbids inline
//! styles).

use std::fmt::Write as _;

/// One candle in integer units (price ticks, volume lots) at its open time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candle {
    pub open_s: i64,
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    pub volume: i64,
}

const CHART_WIDTH: f64 = 720.0;
const PRICE_HEIGHT: f64 = 250.0;
const VOLUME_HEIGHT: f64 = 60.0;
const AXIS_WIDTH: f64 = 80.0;
const SPARK_WIDTH: f64 = 100.0;
const SPARK_HEIGHT: f64 = 28.0;
const LINE_WIDTH: f64 = 720.0;
const LINE_HEIGHT: f64 = 220.0;

/// `value` mapped from `[low, high]` onto `[bottom, top]` of a drawing (y grows downwards).
fn scale_y(value: i64, low: i64, high: i64, top: f64, bottom: f64) -> f64 {
    if high <= low {
        return (top + bottom) / 2.0;
    }
    #[allow(clippy::cast_precision_loss)]
    let fraction = (value - low) as f64 / (high - low) as f64;
    bottom - fraction * (bottom - top)
}

/// The candlestick chart of `candles` (oldest first); `price` formats a tick count as the
/// market shows it. Without candles it says so.
pub fn candles_svg(candles: &[Candle], price: &dyn Fn(i64) -> String, label: &str) -> String {
    let height = PRICE_HEIGHT + VOLUME_HEIGHT + 10.0;
    let mut svg = format!(
        "<svg class=\"chart\" id=\"chart-svg\" viewBox=\"0 0 {CHART_WIDTH} {height}\" \
         role=\"img\" aria-label=\"{label}\" data-candles=\"{}\">",
        candles.len()
    );
    if candles.is_empty() {
        let _ = write!(
            svg,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">No trades in this \
             interval yet</text></svg>",
            CHART_WIDTH / 2.0,
            PRICE_HEIGHT / 2.0
        );
        return svg;
    }
    let high = candles.iter().map(|c| c.high).max().unwrap_or(0);
    let low = candles.iter().map(|c| c.low).min().unwrap_or(0);
    let volume_max = candles.iter().map(|c| c.volume).max().unwrap_or(0).max(1);
    let plot = CHART_WIDTH - AXIS_WIDTH;
    #[allow(clippy::cast_precision_loss)]
    let slot = plot / candles.len().max(30) as f64;
    let body = (slot * 0.7).max(1.0);
    let volume_bottom = PRICE_HEIGHT + VOLUME_HEIGHT;
    let y = |v: i64| scale_y(v, low, high, 8.0, PRICE_HEIGHT - 8.0);
    for (index, c) in candles.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x = index as f64 * slot + slot / 2.0;
        let class = if c.close >= c.open { "up" } else { "down" };
        let (top, bottom) = (y(c.open.max(c.close)), y(c.open.min(c.close)));
        let volume_top = scale_y(c.volume, 0, volume_max, PRICE_HEIGHT + 6.0, volume_bottom);
        let _ = write!(
            svg,
            "<g class=\"candle {class}\" data-t=\"{}\"><line x1=\"{x:.1}\" x2=\"{x:.1}\" \
             y1=\"{:.1}\" y2=\"{:.1}\"/><rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{body:.1}\" \
             height=\"{:.1}\"/><rect class=\"vol\" x=\"{:.1}\" y=\"{volume_top:.1}\" \
             width=\"{body:.1}\" height=\"{:.1}\"/></g>",
            c.open_s,
            y(c.high),
            y(c.low),
            x - body / 2.0,
            (bottom - top).max(1.0),
            x - body / 2.0,
            (volume_bottom - volume_top).max(0.5),
        );
    }
    // The last price's line and label; the high and low labels give way where they would overlap.
    let last = candles.last().map_or(low, |c| c.close);
    let last_y = y(last);
    for (value, label_y) in [(high, 14.0), (low, PRICE_HEIGHT - 4.0)] {
        if (label_y - (last_y + 4.0)).abs() < 14.0 {
            continue;
        }
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{}\" y=\"{label_y}\">{}</text>",
            plot + 6.0,
            price(value)
        );
    }
    let _ = write!(
        svg,
        "<line class=\"last\" x1=\"0\" x2=\"{plot}\" y1=\"{last_y:.1}\" y2=\"{last_y:.1}\"/>\
         <text class=\"axis last-label\" x=\"{}\" y=\"{:.1}\">{}</text>",
        plot + 6.0,
        last_y + 4.0,
        price(last)
    );
    svg.push_str("</svg>");
    svg
}

/// A small line of `values` (oldest first), rising or falling by its first and last value.
pub fn sparkline_svg(values: &[i64]) -> String {
    if values.len() < 2 {
        return format!(
            "<svg class=\"spark flat\" viewBox=\"0 0 {SPARK_WIDTH} {SPARK_HEIGHT}\" \
             aria-hidden=\"true\"><line x1=\"0\" x2=\"{SPARK_WIDTH}\" y1=\"{0}\" y2=\"{0}\"/></svg>",
            SPARK_HEIGHT / 2.0
        );
    }
    let high = values.iter().copied().max().unwrap_or(0);
    let low = values.iter().copied().min().unwrap_or(0);
    let first = values.first().copied().unwrap_or(0);
    let last = values.last().copied().unwrap_or(0);
    let class = if last >= first { "up" } else { "down" };
    #[allow(clippy::cast_precision_loss)]
    let step = SPARK_WIDTH / (values.len() - 1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            #[allow(clippy::cast_precision_loss)]
            let x = i as f64 * step;
            format!(
                "{x:.1},{:.1}",
                scale_y(*v, low, high, 2.0, SPARK_HEIGHT - 2.0)
            )
        })
        .collect();
    format!(
        "<svg class=\"spark {class}\" viewBox=\"0 0 {SPARK_WIDTH} {SPARK_HEIGHT}\" \
         aria-hidden=\"true\"><polyline points=\"{}\"/></svg>",
        points.join(" ")
    )
}

/// What a value line is called: its element id, its accessible label, and what it says while
/// it has fewer than two points.
pub struct LineText {
    pub id: &'static str,
    pub label: &'static str,
    pub empty: &'static str,
}

/// The portfolio's account value.
pub const ACCOUNT_VALUE: LineText = LineText {
    id: "value-chart",
    label: "Account value over time",
    empty: "Not enough history yet: the chart fills in hour by hour",
};

/// The Safeguard fund's value, one point per transparency report.
pub const FUND_VALUE: LineText = LineText {
    id: "fund-chart",
    label: "Safeguard fund value per report",
    empty: "Not enough history yet: the chart fills in report by report",
};

/// The value line of `(time label, value)` points (oldest first), labelled with the highest
/// and lowest value as `format` shows them.
pub fn value_line_svg(
    points: &[(String, i64)],
    text: &LineText,
    format: &dyn Fn(i64) -> String,
) -> String {
    let mut svg = format!(
        "<svg class=\"chart value-line\" id=\"{}\" viewBox=\"0 0 {LINE_WIDTH} \
         {LINE_HEIGHT}\" role=\"img\" aria-label=\"{}\" data-points=\"{}\">",
        text.id,
        text.label,
        points.len()
    );
    if points.len() < 2 {
        let _ = write!(
            svg,
            "<text class=\"empty\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></svg>",
            LINE_WIDTH / 2.0,
            LINE_HEIGHT / 2.0,
            text.empty
        );
        return svg;
    }
    let high = points.iter().map(|p| p.1).max().unwrap_or(0);
    let low = points.iter().map(|p| p.1).min().unwrap_or(0);
    let plot = LINE_WIDTH - AXIS_WIDTH;
    let bottom = LINE_HEIGHT - 20.0;
    #[allow(clippy::cast_precision_loss)]
    let step = plot / (points.len() - 1) as f64;
    let mut line = Vec::with_capacity(points.len());
    for (i, (_, value)) in points.iter().enumerate() {
        #[allow(clippy::cast_precision_loss)]
        let x = i as f64 * step;
        line.push(format!(
            "{x:.1},{:.1}",
            scale_y(*value, low, high, 8.0, bottom)
        ));
    }
    let _ = write!(
        svg,
        "<polygon class=\"area\" points=\"0,{bottom} {} {plot:.1},{bottom}\"/>\
         <polyline points=\"{}\"/>",
        line.join(" "),
        line.join(" ")
    );
    for (value, y) in [(high, 14.0), (low, bottom)] {
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"{}\" y=\"{y}\">{}</text>",
            plot + 6.0,
            format(value)
        );
    }
    if let (Some(first), Some(last)) = (points.first(), points.last()) {
        let _ = write!(
            svg,
            "<text class=\"axis\" x=\"0\" y=\"{}\">{}</text>\
             <text class=\"axis\" x=\"{plot}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            LINE_HEIGHT - 4.0,
            first.0,
            LINE_HEIGHT - 4.0,
            last.0
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(open_s: i64, open: i64, close: i64) -> Candle {
        Candle {
            open_s,
            open,
            high: open.max(close) + 1,
            low: open.min(close) - 1,
            close,
            volume: 5,
        }
    }

    #[test]
    fn candles_draw_one_group_each_with_direction() {
        let svg = candles_svg(
            &[candle(60, 10, 12), candle(120, 12, 11)],
            &|t| t.to_string(),
            "BTC_USDT",
        );
        assert_eq!(svg.matches("<g class=\"candle up\"").count(), 1);
        assert_eq!(svg.matches("<g class=\"candle down\"").count(), 1);
        assert!(svg.contains("data-candles=\"2\""));
        assert!(svg.contains(">13<") && svg.contains(">9<"), "{svg}");
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }

    #[test]
    fn empty_and_flat_charts_say_so_without_dividing_by_zero() {
        assert!(candles_svg(&[], &|t| t.to_string(), "X").contains("No trades"));
        let flat = candles_svg(
            &[Candle {
                open_s: 0,
                open: 5,
                high: 5,
                low: 5,
                close: 5,
                volume: 0,
            }],
            &|t| t.to_string(),
            "X",
        );
        assert!(!flat.contains("NaN"), "{flat}");
        assert!(sparkline_svg(&[]).contains("flat"));
        assert!(sparkline_svg(&[3, 3, 3]).contains("spark up"));
        assert!(sparkline_svg(&[5, 4]).contains("spark down"));
        assert!(
            value_line_svg(&[], &ACCOUNT_VALUE, &|v| v.to_string()).contains("Not enough history")
        );
        let line = value_line_svg(
            &[("a".into(), 1), ("b".into(), 1), ("c".into(), 2)],
            &ACCOUNT_VALUE,
            &|v| v.to_string(),
        );
        assert!(line.contains("data-points=\"3\"") && !line.contains("NaN"));
    }
}
