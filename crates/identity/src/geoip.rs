//! Country lookup for client addresses from an operator-supplied GeoIP file.
//!
//! Two formats, both loaded at run time from a path (no data is bundled or committed):
//! * the plain-text range files of Debian's `tor-geoipdb` package: IPv4 lines
//!   `start_int,end_int,CC`, IPv6 lines `start_addr,end_addr,CC`, `#` comments. Ranges must be
//!   sorted and non-overlapping (checked at load, then binary-searched);
//! * MaxMind DB (`.mmdb`, GeoLite2/DB-IP Country) through the `maxminddb` crate.
//!
//! The code `??` in the data means "unknown" and is reported as `None`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// ISO 3166-1 alpha-2 code, upper-case ASCII.
pub type CountryCode = [u8; 2];
/// What an unknown country is shown as.
pub const UNKNOWN_COUNTRY: CountryCode = *b"??";

/// The code as text ("DE"; "??" if the bytes are not letters).
pub fn country_str(code: &CountryCode) -> &str {
    std::str::from_utf8(code).unwrap_or("??")
}

/// Parse "de" / "DE" into a code; `None` for anything else (including "??").
pub fn parse_country(text: &str) -> Option<CountryCode> {
    let bytes = text.trim().as_bytes();
    match bytes {
        [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            Some([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
        }
        _ => None,
    }
}

/// Why a GeoIP file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    #[error("cannot read GeoIP file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{source_name} line {line}: {reason}")]
    Parse {
        source_name: String,
        line: usize,
        reason: String,
    },
    #[error(
        "{source_name} line {line}: range starts before the previous range ends (file must be sorted and non-overlapping)"
    )]
    Unsorted { source_name: String, line: usize },
    #[error("cannot open MaxMind database {path}: {reason}")]
    Mmdb { path: PathBuf, reason: String },
    #[error("GeoIP source {source_kind:?} needs at least one path")]
    MissingPath { source_kind: GeoIpSource },
}

/// Anything that can place an address in a country.
pub trait GeoResolver: Send + Sync {
    /// The country of `ip`, or `None` when unknown.
    fn country(&self, ip: IpAddr) -> Option<CountryCode>;

    /// The country, with unknown shown as `??`.
    fn country_or_unknown(&self, ip: IpAddr) -> CountryCode {
        self.country(ip).unwrap_or(UNKNOWN_COUNTRY)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range<T> {
    start: T,
    end: T,
    country: Option<CountryCode>,
}

fn find<T: Ord + Copy>(ranges: &[Range<T>], ip: T) -> Option<CountryCode> {
    let idx = ranges.partition_point(|r| r.start <= ip);
    let range = ranges.get(idx.checked_sub(1)?)?;
    if ip <= range.end { range.country } else { None }
}

/// The tor-geoipdb text format, held as sorted ranges.
#[derive(Debug, Default, Clone)]
pub struct TorGeoIp {
    v4: Vec<Range<u32>>,
    v6: Vec<Range<u128>>,
}

impl TorGeoIp {
    /// Load one or more files (typically `/usr/share/tor/geoip` and `geoip6`); each line says by
    /// its shape whether it is IPv4 or IPv6.
    pub fn load(paths: &[PathBuf]) -> Result<Self, GeoIpError> {
        let mut db = Self::default();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|source| GeoIpError::Io {
                path: path.clone(),
                source,
            })?;
            db.add_text(&text, &path.display().to_string())?;
        }
        Ok(db)
    }

    /// Parse text already in memory (tests and embedded fixtures).
    pub fn parse_str(text: &str) -> Result<Self, GeoIpError> {
        let mut db = Self::default();
        db.add_text(text, "<memory>")?;
        Ok(db)
    }

    fn add_text(&mut self, text: &str, source_name: &str) -> Result<(), GeoIpError> {
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.trim();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let err = |reason: &str| GeoIpError::Parse {
                source_name: source_name.to_string(),
                line,
                reason: reason.to_string(),
            };
            let mut fields = content.split(',').map(str::trim);
            let (Some(start), Some(end), Some(cc), None) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                return Err(err(
                    "expected three comma-separated fields: start,end,country",
                ));
            };
            let country = match cc {
                "??" => None,
                other => Some(
                    parse_country(other).ok_or_else(|| err("country must be two letters or ??"))?,
                ),
            };
            let unsorted = || GeoIpError::Unsorted {
                source_name: source_name.to_string(),
                line,
            };
            if start.contains(':') {
                let parse = |s: &str| s.parse::<std::net::Ipv6Addr>().map(u128::from);
                let (Ok(start), Ok(end)) = (parse(start), parse(end)) else {
                    return Err(err("invalid IPv6 address"));
                };
                push_range(
                    &mut self.v6,
                    Range {
                        start,
                        end,
                        country,
                    },
                    &err,
                    unsorted,
                )?;
            } else {
                let (Ok(start), Ok(end)) = (start.parse::<u32>(), end.parse::<u32>()) else {
                    return Err(err("IPv4 bounds must be integers 0..=4294967295"));
                };
                push_range(
                    &mut self.v4,
                    Range {
                        start,
                        end,
                        country,
                    },
                    &err,
                    unsorted,
                )?;
            }
        }
        Ok(())
    }

    /// Number of (IPv4, IPv6) ranges loaded.
    pub fn len(&self) -> (usize, usize) {
        (self.v4.len(), self.v6.len())
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

fn push_range<T: Ord + Copy>(
    ranges: &mut Vec<Range<T>>,
    range: Range<T>,
    err: &dyn Fn(&str) -> GeoIpError,
    unsorted: impl Fn() -> GeoIpError,
) -> Result<(), GeoIpError> {
    if range.start > range.end {
        return Err(err("range start is after its end"));
    }
    if let Some(prev) = ranges.last()
        && range.start <= prev.end
    {
        return Err(unsorted());
    }
    ranges.push(range);
    Ok(())
}

impl GeoResolver for TorGeoIp {
    fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        match ip {
            IpAddr::V4(v4) => find(&self.v4, u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => find(&self.v4, u32::from(v4)),
                None => find(&self.v6, u128::from(v6)),
            },
        }
    }
}

/// A MaxMind DB file held in memory.
pub struct MmdbGeoIp {
    reader: maxminddb::Reader<Vec<u8>>,
}

impl std::fmt::Debug for MmdbGeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MmdbGeoIp")
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl MmdbGeoIp {
    pub fn open(path: &Path) -> Result<Self, GeoIpError> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| GeoIpError::Mmdb {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        Ok(Self { reader })
    }

    fn lookup_field(&self, ip: IpAddr, field: &str) -> Option<CountryCode> {
        let result = self.reader.lookup(ip).ok()?;
        let code: Option<String> = result
            .decode_path(&maxminddb::path![field, "iso_code"])
            .ok()?;
        parse_country(&code?)
    }
}

impl GeoResolver for MmdbGeoIp {
    fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        self.lookup_field(ip, "country")
            .or_else(|| self.lookup_field(ip, "registered_country"))
    }
}

/// Which GeoIP format the operator configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GeoIpSource {
    /// No GeoIP: every address is unknown (region rules then rely on KYC residence only).
    None,
    /// tor-geoipdb text files.
    TorText,
    /// A MaxMind `.mmdb` file.
    Mmdb,
}

/// GeoIP configuration (`geoip.source`, `geoip.paths`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GeoIpConfig {
    pub source: GeoIpSource,
    #[serde(default)]
    pub paths: Vec<PathBuf>,
}

/// The configured resolver.
#[derive(Debug)]
pub enum GeoIp {
    Disabled,
    Tor(TorGeoIp),
    Mmdb(MmdbGeoIp),
}

impl GeoIp {
    /// Load what the configuration names; a configured but unreadable file is an error, not a
    /// silent "unknown everywhere" (which would switch off region restrictions).
    pub fn load(config: &GeoIpConfig) -> Result<Self, GeoIpError> {
        match config.source {
            GeoIpSource::None => Ok(Self::Disabled),
            GeoIpSource::TorText if config.paths.is_empty() => Err(GeoIpError::MissingPath {
                source_kind: config.source,
            }),
            GeoIpSource::TorText => Ok(Self::Tor(TorGeoIp::load(&config.paths)?)),
            GeoIpSource::Mmdb => match config.paths.first() {
                Some(path) => Ok(Self::Mmdb(MmdbGeoIp::open(path)?)),
                None => Err(GeoIpError::MissingPath {
                    source_kind: config.source,
                }),
            },
        }
    }
}

/// The marker MaxMind DB files carry before their metadata section.
const MMDB_METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

impl GeoIp {
    /// Load one operator-configured file, detecting the format: a `.mmdb` name or the MaxMind
    /// metadata marker means MaxMind DB, anything else is read as tor-geoipdb text (which must
    /// then parse, so a wrong file is an error at start rather than "unknown everywhere").
    pub fn open_detect(path: &Path) -> Result<Self, GeoIpError> {
        let by_name = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("mmdb"));
        let bytes = std::fs::read(path).map_err(|source| GeoIpError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let by_content = bytes
            .windows(MMDB_METADATA_MARKER.len())
            .any(|w| w == MMDB_METADATA_MARKER);
        if by_name || by_content {
            return Ok(Self::Mmdb(MmdbGeoIp::open(path)?));
        }
        Ok(Self::Tor(TorGeoIp::load(&[path.to_path_buf()])?))
    }
}

impl GeoResolver for GeoIp {
    fn country(&self, ip: IpAddr) -> Option<CountryCode> {
        match self {
            Self::Disabled => None,
            Self::Tor(db) => db.country(ip),
            Self::Mmdb(db) => db.country(ip),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use std::net::Ipv4Addr;

    const V4_FIXTURE: &str = "# tiny fixture in tor-geoipdb format\n\
        16777216,16777471,AU\n\
        16777472,16778239,CN\n\
        3221225984,3221226239,??\n\
        3325256704,3325256959,DE\n";
    const V6_FIXTURE: &str = "# IPv6\n\
        2001:db8::,2001:db8:0:ffff:ffff:ffff:ffff:ffff,FR\n\
        2001:db8:1::,2001:db8:1:ffff:ffff:ffff:ffff:ffff,us\n";

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn fixture_files(dir: &Path) -> Vec<PathBuf> {
        let v4 = dir.join("geoip");
        let v6 = dir.join("geoip6");
        std::fs::write(&v4, V4_FIXTURE).unwrap();
        std::fs::write(&v6, V6_FIXTURE).unwrap();
        vec![v4, v6]
    }

    #[test]
    fn tor_text_lookup_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let db = TorGeoIp::load(&fixture_files(dir.path())).unwrap();
        assert_eq!(db.len(), (4, 2));
        assert_eq!(db.country(ip("1.0.0.0")), Some(*b"AU"));
        assert_eq!(db.country(ip("1.0.0.255")), Some(*b"AU"));
        assert_eq!(db.country(ip("1.0.1.0")), Some(*b"CN"));
        assert_eq!(db.country(ip("1.0.3.255")), Some(*b"CN"));
        assert_eq!(db.country(ip("1.0.4.0")), None);
        assert_eq!(db.country(ip("0.255.255.255")), None);
        assert_eq!(db.country(ip("192.0.2.1")), None, "?? means unknown");
        assert_eq!(db.country_or_unknown(ip("192.0.2.1")), UNKNOWN_COUNTRY);
        assert_eq!(db.country(ip("198.51.100.1")), Some(*b"DE"));
        assert_eq!(db.country(ip("::ffff:198.51.100.1")), Some(*b"DE"));
        assert_eq!(db.country(ip("2001:db8::1")), Some(*b"FR"));
        assert_eq!(db.country(ip("2001:db8:1:0:1::")), Some(*b"US"));
        assert_eq!(db.country(ip("2001:db8:2::1")), None);
        assert_eq!(db.country(ip("255.255.255.255")), None);
    }

    #[test]
    fn unsorted_and_overlapping_files_are_refused() {
        let overlap = "10,20,DE\n20,30,FR\n";
        assert!(matches!(
            TorGeoIp::parse_str(overlap),
            Err(GeoIpError::Unsorted { line: 2, .. })
        ));
        let unsorted = "100,200,DE\n10,20,FR\n";
        assert!(matches!(
            TorGeoIp::parse_str(unsorted),
            Err(GeoIpError::Unsorted { line: 2, .. })
        ));
        let backwards = "30,20,DE\n";
        assert!(matches!(
            TorGeoIp::parse_str(backwards),
            Err(GeoIpError::Parse { line: 1, .. })
        ));
        assert!(TorGeoIp::parse_str("10,20,DE\n21,30,FR\n").is_ok());
    }

    #[test]
    fn malformed_lines_name_the_line() {
        for (text, line) in [
            ("1,2\n", 1),
            ("# c\n1,2,DE,x\n", 2),
            ("a,2,DE\n", 1),
            ("1,2,DEU\n", 1),
            ("1,4294967296,DE\n", 1),
            ("2001:db8::,nothex,DE\n", 1),
        ] {
            match TorGeoIp::parse_str(text) {
                Err(GeoIpError::Parse { line: got, .. }) => assert_eq!(got, line, "{text:?}"),
                other => panic!("{text:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn config_loading() {
        let dir = tempfile::tempdir().unwrap();
        let paths = fixture_files(dir.path());
        let geo = GeoIp::load(&GeoIpConfig {
            source: GeoIpSource::TorText,
            paths,
        })
        .unwrap();
        assert_eq!(geo.country(ip("1.0.0.1")), Some(*b"AU"));
        let off = GeoIp::load(&GeoIpConfig {
            source: GeoIpSource::None,
            paths: vec![],
        })
        .unwrap();
        assert_eq!(off.country(ip("1.0.0.1")), None);
        assert!(matches!(
            GeoIp::load(&GeoIpConfig {
                source: GeoIpSource::Mmdb,
                paths: vec![]
            }),
            Err(GeoIpError::MissingPath { .. })
        ));
        let missing = GeoIpConfig {
            source: GeoIpSource::TorText,
            paths: vec![dir.path().join("nope")],
        };
        assert!(matches!(GeoIp::load(&missing), Err(GeoIpError::Io { .. })));
        let cfg: GeoIpConfig =
            serde_json::from_str(r#"{"source":"tor-text","paths":["/x"]}"#).unwrap();
        assert_eq!(cfg.source, GeoIpSource::TorText);
    }

    #[test]
    fn country_helpers() {
        assert_eq!(parse_country("de"), Some(*b"DE"));
        assert_eq!(parse_country("??"), None);
        assert_eq!(parse_country("D1"), None);
        assert_eq!(country_str(b"DE"), "DE");
    }

    /// A minimal MaxMind DB writer (IPv4 tree, 24-bit records), enough to test the reader path
    /// without committing any real GeoIP data.
    mod mmdb_writer {
        use std::net::Ipv4Addr;

        #[derive(Clone, Copy)]
        enum Rec {
            Empty,
            Node(usize),
            Data(usize),
        }

        fn ctrl(kind: u8, size: usize) -> Vec<u8> {
            assert!(size < 29);
            if kind <= 7 {
                vec![(kind << 5) | size as u8]
            } else {
                vec![size as u8, kind - 7]
            }
        }

        fn string(s: &str) -> Vec<u8> {
            let mut out = ctrl(2, s.len());
            out.extend_from_slice(s.as_bytes());
            out
        }

        fn uint(kind: u8, value: u64) -> Vec<u8> {
            let bytes: Vec<u8> = value
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            let mut out = ctrl(kind, bytes.len());
            out.extend(bytes);
            out
        }

        fn map(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
            let mut out = ctrl(7, pairs.len());
            for (k, v) in pairs {
                out.extend(string(k));
                out.extend_from_slice(v);
            }
            out
        }

        pub fn build(entries: &[(Ipv4Addr, u8, &str)]) -> Vec<u8> {
            let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty, Rec::Empty]];
            let mut data = Vec::new();
            for &(net, prefix, cc) in entries {
                let offset = data.len();
                data.extend(map(&[("country", map(&[("iso_code", string(cc))]))]));
                let bits = u32::from(net);
                let mut node = 0;
                for depth in 0..prefix {
                    let bit = ((bits >> (31 - depth)) & 1) as usize;
                    if depth + 1 == prefix {
                        nodes[node][bit] = Rec::Data(offset);
                    } else {
                        node = match nodes[node][bit] {
                            Rec::Node(n) => n,
                            _ => {
                                nodes.push([Rec::Empty, Rec::Empty]);
                                let n = nodes.len() - 1;
                                nodes[node][bit] = Rec::Node(n);
                                n
                            }
                        };
                    }
                }
            }
            let count = nodes.len();
            let mut out = Vec::new();
            for node in &nodes {
                for rec in node {
                    let value = match *rec {
                        Rec::Empty => count,
                        Rec::Node(n) => n,
                        Rec::Data(off) => count + 16 + off,
                    } as u32;
                    out.extend_from_slice(&value.to_be_bytes()[1..]);
                }
            }
            out.extend_from_slice(&[0u8; 16]);
            out.extend(data);
            out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
            out.extend(map(&[
                ("binary_format_major_version", uint(5, 2)),
                ("binary_format_minor_version", uint(5, 0)),
                ("build_epoch", uint(9, 1_700_000_000)),
                ("database_type", string("Bulwark-Test-Country")),
                ("description", map(&[])),
                ("ip_version", uint(5, 4)),
                ("languages", ctrl(11, 0)),
                ("node_count", uint(6, count as u64)),
                ("record_size", uint(5, 24)),
            ]));
            out
        }
    }

    #[test]
    fn open_detect_picks_the_format() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("geoip.txt");
        std::fs::write(&text, V4_FIXTURE).unwrap();
        let db = GeoIp::open_detect(&text).unwrap();
        assert!(matches!(db, GeoIp::Tor(_)));
        assert_eq!(db.country(ip("198.51.100.1")), Some(*b"DE"));
        // A MaxMind file is recognised by its content even without the extension.
        let bytes = mmdb_writer::build(&[(Ipv4Addr::new(203, 0, 113, 0), 24, "KP")]);
        let unnamed = dir.path().join("country.db");
        std::fs::write(&unnamed, &bytes).unwrap();
        let db = GeoIp::open_detect(&unnamed).unwrap();
        assert!(matches!(db, GeoIp::Mmdb(_)));
        assert_eq!(db.country(ip("203.0.113.7")), Some(*b"KP"));
        let named = dir.path().join("x.mmdb");
        std::fs::write(&named, &bytes).unwrap();
        assert!(matches!(
            GeoIp::open_detect(&named).unwrap(),
            GeoIp::Mmdb(_)
        ));
        // Wrong or missing files are errors, never "unknown everywhere".
        let junk = dir.path().join("junk.txt");
        std::fs::write(&junk, "not,a,geoip line\n").unwrap();
        assert!(GeoIp::open_detect(&junk).is_err());
        assert!(GeoIp::open_detect(&dir.path().join("missing")).is_err());
        std::fs::write(&named, b"not a database").unwrap();
        assert!(GeoIp::open_detect(&named).is_err());
    }

    #[test]
    fn mmdb_lookup_from_a_generated_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.mmdb");
        let bytes = mmdb_writer::build(&[
            (Ipv4Addr::new(10, 0, 0, 0), 8, "DE"),
            (Ipv4Addr::new(192, 0, 2, 0), 24, "JP"),
        ]);
        std::fs::write(&path, bytes).unwrap();
        let db = MmdbGeoIp::open(&path).unwrap();
        assert_eq!(db.country(ip("10.1.2.3")), Some(*b"DE"));
        assert_eq!(db.country(ip("192.0.2.200")), Some(*b"JP"));
        assert_eq!(db.country(ip("192.0.3.1")), None);
        assert_eq!(db.country(ip("2001:db8::1")), None);
        let geo = GeoIp::load(&GeoIpConfig {
            source: GeoIpSource::Mmdb,
            paths: vec![path],
        })
        .unwrap();
        assert_eq!(geo.country(ip("10.9.9.9")), Some(*b"DE"));
        assert!(format!("{geo:?}").contains("Bulwark-Test-Country"));
    }

    #[test]
    fn broken_mmdb_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.mmdb");
        std::fs::write(&path, b"not a database").unwrap();
        assert!(matches!(
            MmdbGeoIp::open(&path),
            Err(GeoIpError::Mmdb { .. })
        ));
    }
}
