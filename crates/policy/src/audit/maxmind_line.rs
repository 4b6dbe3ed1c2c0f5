//! The `mail-audit-maxmind:` line (the contract's §4 second line): what GeoIP said about
//! the client IP of a logged decision.

use std::fmt;
use std::net::IpAddr;

use super::Escaped;
use crate::facts::{GeoFacts, Place};

/// `mail-audit-maxmind: user=<u>, service=s, ip=…, asn=AS…, as_org=<…>,
/// city=<Name/geonameid>, subdivision[0]=<Name/id>, …, country=<CC/id>,
/// continent=<CC/id>, registered_country=<CC/id>, lat=…, lon=…, rad=…km`
///
/// Unknown parts are left out (a place with neither name/code nor id, a missing
/// location or radius); a place with only one half known prints the other half empty
/// (`city=</2643743>`). Every value is escaped by the rule of [`super`].
#[derive(Debug, Clone, Copy)]
pub struct MaxmindLine<'a> {
    /// The login's user name.
    pub user: &'a str,
    /// The login's service (`imap`, `pop3`, `smtp`, …).
    pub service: &'a str,
    /// The client IP.
    pub ip: IpAddr,
    /// What the GeoIP databases know about it.
    pub geo: &'a GeoFacts,
}

impl fmt::Display for MaxmindLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let geo = self.geo;
        write!(
            f,
            "mail-audit-maxmind: user=<{}>, service={}, ip={}",
            Escaped(self.user),
            Escaped(self.service),
            self.ip
        )?;
        if let Some(asn) = geo.asn {
            write!(f, ", asn={asn}")?;
        }
        if let Some(org) = &geo.as_org {
            write!(f, ", as_org=<{}>", Escaped(org))?;
        }
        place(f, format_args!("city"), geo.city.as_ref(), false)?;
        for (i, sub) in geo.subdivisions.iter().enumerate() {
            place(f, format_args!("subdivision[{i}]"), Some(sub), false)?;
        }
        place(f, format_args!("country"), geo.country.as_ref(), true)?;
        place(f, format_args!("continent"), geo.continent.as_ref(), true)?;
        place(
            f,
            format_args!("registered_country"),
            geo.registered_country.as_ref(),
            true,
        )?;
        if let Some(loc) = &geo.location {
            write!(f, ", lat={}, lon={}", loc.latitude, loc.longitude)?;
            if let Some(rad) = loc.accuracy_radius {
                write!(f, ", rad={rad}km")?;
            }
        }
        Ok(())
    }
}

/// `, key=<label/geonameid>`; nothing when neither half is known.
fn place(
    f: &mut fmt::Formatter<'_>,
    key: fmt::Arguments<'_>,
    p: Option<&Place>,
    use_code: bool,
) -> fmt::Result {
    let Some(p) = p else { return Ok(()) };
    let label = if use_code { &p.code } else { &p.name };
    if label.is_none() && p.geoname_id.is_none() {
        return Ok(());
    }
    write!(f, ", {key}=<{}/", Escaped(label.as_deref().unwrap_or("")))?;
    if let Some(id) = p.geoname_id {
        write!(f, "{id}")?;
    }
    f.write_str(">")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_omits_unknown() {
        let geo = GeoFacts {
            as_org: Some("Evil, asn=AS1 <x>".into()),
            city: Some(Place {
                geoname_id: Some(7),
                code: None,
                name: None,
            }),
            ..GeoFacts::default()
        };
        let line = MaxmindLine {
            user: "a\nb",
            service: "imap",
            ip: "192.0.2.1".parse().unwrap(),
            geo: &geo,
        };
        assert_eq!(
            line.to_string(),
            "mail-audit-maxmind: user=<a\\x0ab>, service=imap, ip=192.0.2.1, \
             as_org=<Evil\\x2c asn=AS1 \\x3cx\\x3e>, city=</7>"
        );
    }
}
