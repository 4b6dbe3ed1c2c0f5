//! `maxmind/coords.deny.lst`: circles on the globe.
//!
//! An entry `lat,lon,radius_km,overlap` blocks a client whose MaxMind location circle
//! (its coordinates and accuracy radius) overlaps the entry's circle by more than
//! `overlap` × the accuracy radius. Distances use the equirectangular approximation on a
//! sphere of 6371.009 km, in radians (the older tool fed degrees to `cos`; that was a bug).

use super::diag::FileReport;
use super::line::{trim, Line};
use super::Entry;

/// Mean Earth radius used by the contract, in km.
const EARTH_RADIUS_KM: f64 = 6371.009;

/// One circle: an entry of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Circle {
    lat: f64,
    lon: f64,
    radius_km: u32,
    overlap: f64,
    pub(crate) entry: Entry,
}

impl Circle {
    /// The `matched=` label, formatted as the older tool did (`%f,%f,%d,%f`).
    pub fn label(&self) -> String {
        format!(
            "maxmind:geoloc:{:.6},{:.6},{},{:.6}",
            self.lat, self.lon, self.radius_km, self.overlap
        )
    }

    /// Whether a client at (`lat`, `lon`) with accuracy radius `accuracy_km` is inside.
    pub fn covers(&self, lat: f64, lon: f64, accuracy_km: f64) -> bool {
        let distance = distance_km(self.lat, self.lon, lat, lon);
        let reach = accuracy_km + f64::from(self.radius_km);
        if distance >= reach {
            return false;
        }
        if accuracy_km <= 0.0 {
            return true; // an exact point inside the circle
        }
        (reach - distance) / accuracy_km > self.overlap
    }
}

/// Equirectangular distance in km between two points given in degrees.
fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dlat = p2 - p1;
    let mut dlon = (lon2 - lon1).to_radians();
    if dlon > std::f64::consts::PI {
        dlon -= std::f64::consts::TAU;
    } else if dlon < -std::f64::consts::PI {
        dlon += std::f64::consts::TAU;
    }
    let x = ((p1 + p2) / 2.0).cos() * dlon;
    EARTH_RADIUS_KM * (dlat * dlat + x * x).sqrt()
}

/// The circles of a coords list.
#[derive(Debug, Clone, Default)]
pub struct CoordsList {
    circles: Vec<Circle>,
}

fn field<T: std::str::FromStr>(raw: &[u8], what: &str) -> Result<T, String> {
    std::str::from_utf8(trim(raw))
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{what} is not a number: {}", Line::shown(trim(raw))))
}

impl CoordsList {
    pub(crate) fn add_line(&mut self, line: Line<'_>, report: &mut FileReport<'_>) {
        match parse_circle(line.text) {
            Ok((lat, lon, radius_km, overlap)) => self.circles.push(Circle {
                lat,
                lon,
                radius_km,
                overlap,
                entry: Entry::of(line.number, line.text),
            }),
            Err(e) => report.error(line.number, e),
        }
    }

    /// The first circle (in file order) covering the client.
    pub fn find(&self, lat: f64, lon: f64, accuracy_km: f64) -> Option<&Circle> {
        self.circles
            .iter()
            .find(|c| c.covers(lat, lon, accuracy_km))
    }

    /// The number of circles.
    pub fn len(&self) -> usize {
        self.circles.len()
    }

    /// Whether the list has no circles.
    pub fn is_empty(&self) -> bool {
        self.circles.is_empty()
    }
}

fn parse_circle(text: &[u8]) -> Result<(f64, f64, u32, f64), String> {
    let parts: Vec<&[u8]> = text.splitn(4, |b| *b == b',').collect();
    let [lat, lon, rad, rest] = parts[..] else {
        return Err(format!(
            "expected lat,lon,radius_km,overlap: {}",
            Line::shown(text)
        ));
    };
    // The overlap is the first word of the rest; anything after it is a comment.
    let rest = trim(rest);
    let overlap_end = rest
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(rest.len());
    let lat: f64 = field(lat, "latitude")?;
    let lon: f64 = field(lon, "longitude")?;
    let rad: u32 = field(rad, "radius (whole km)")?;
    let overlap: f64 = field(&rest[..overlap_end], "overlap")?;
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} is outside -90..90"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} is outside -180..180"));
    }
    if !overlap.is_finite() || overlap < 0.0 {
        return Err(format!("overlap {overlap} must be a number >= 0"));
    }
    Ok((lat, lon, rad, overlap))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_is_in_radians() {
        // Berlin – Paris is about 878 km great-circle; equirectangular is close.
        let d = distance_km(52.52, 13.405, 48.8566, 2.3522);
        assert!((d - 878.0).abs() < 15.0, "{d}");
        // Across the antimeridian: 2 degrees of longitude on the equator.
        let d = distance_km(0.0, 179.0, 0.0, -179.0);
        assert!((d - 222.4).abs() < 1.0, "{d}");
    }

    #[test]
    fn parse_and_label() {
        let (lat, lon, rad, ov) = parse_circle(b"52.52, 13.405 ,50,0.5 Berlin").unwrap();
        assert_eq!((lat, lon, rad, ov), (52.52, 13.405, 50, 0.5));
        assert!(parse_circle(b"52.52,13.4,50").is_err());
        assert!(parse_circle(b"91,0,1,0.5").is_err());
        assert!(parse_circle(b"1,2,-3,0.5").is_err());
        assert!(parse_circle(b"1,2,3,x").is_err());
        let c = Circle {
            lat: 52.52,
            lon: 13.405,
            radius_km: 50,
            overlap: 0.5,
            entry: Entry {
                line: 1,
                text: String::new(),
            },
        };
        assert_eq!(c.label(), "maxmind:geoloc:52.520000,13.405000,50,0.500000");
    }

    #[test]
    fn overlap_rule() {
        let c = Circle {
            lat: 0.0,
            lon: 0.0,
            radius_km: 100,
            overlap: 0.5,
            entry: Entry {
                line: 1,
                text: String::new(),
            },
        };
        // Client at the centre, accuracy 20 km: fully inside.
        assert!(c.covers(0.0, 0.0, 20.0));
        // Client 115 km away with accuracy 20 km: overlap 5 km = 0.25 of 20 → not enough.
        let lat = 115.0 / 111.195;
        assert!(!c.covers(lat, 0.0, 20.0));
        // 105 km away: overlap 15 km = 0.75 → blocked.
        let lat = 105.0 / 111.195;
        assert!(c.covers(lat, 0.0, 20.0));
        // Far away: never.
        assert!(!c.covers(10.0, 10.0, 1000.0 / 2.0 - 500.0 + 1.0));
        // Exact point.
        assert!(c.covers(0.5, 0.0, 0.0));
        assert!(!c.covers(5.0, 0.0, 0.0));
    }
}
