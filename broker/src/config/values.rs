//! Value grammars of the typed broker settings.
//!
//! Each parser takes the trimmed text after `key=` and returns the typed value or the phrase
//! that completes `key=value: …`, starting with "expected", so that every error reads the same
//! way: `listenPort=abc: expected a port number 1-65535`. Parsers are pure; `~` expansion gets
//! the home directory passed in, so tests do not depend on the environment.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Replication role of a broker (`brokerRole`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BrokerRole {
    /// Acknowledges a send once stored locally; slaves catch up in the background.
    AsyncMaster,
    /// Acknowledges a send once stored locally *and* on an in-sync slave.
    SyncMaster,
    /// Replicates from the master of the same `brokerName`; serves reads only.
    Slave,
}

impl BrokerRole {
    pub const EXPECTED: &'static str = "expected one of ASYNC_MASTER, SYNC_MASTER, SLAVE";

    /// The spelling used in properties files and printed by `-p`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AsyncMaster => "ASYNC_MASTER",
            Self::SyncMaster => "SYNC_MASTER",
            Self::Slave => "SLAVE",
        }
    }

    pub fn is_master(self) -> bool {
        self != Self::Slave
    }
}

impl FromStr for BrokerRole {
    type Err = String;

    /// Exact, case-sensitive names as Java's `BrokerRole.valueOf`; unlike RocketMQ a typo is
    /// an error instead of a silent fallback to ASYNC_MASTER.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "ASYNC_MASTER" => Ok(Self::AsyncMaster),
            "SYNC_MASTER" => Ok(Self::SyncMaster),
            "SLAVE" => Ok(Self::Slave),
            _ => Err(Self::EXPECTED.to_owned()),
        }
    }
}

impl fmt::Display for BrokerRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a stored message counts as durable (`flushDiskType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlushDiskType {
    /// Acknowledge after the write is queued; fdatasync on a timer.
    AsyncFlush,
    /// Acknowledge only after an fdatasync covering the message.
    SyncFlush,
}

impl FlushDiskType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AsyncFlush => "ASYNC_FLUSH",
            Self::SyncFlush => "SYNC_FLUSH",
        }
    }
}

impl FromStr for FlushDiskType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "ASYNC_FLUSH" => Ok(Self::AsyncFlush),
            "SYNC_FLUSH" => Ok(Self::SyncFlush),
            _ => Err("expected one of ASYNC_FLUSH, SYNC_FLUSH".to_owned()),
        }
    }
}

impl fmt::Display for FlushDiskType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which storage I/O backend the engine uses (`ioBackend`, ringmq only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IoBackend {
    /// io_uring when the kernel allows it, otherwise the fallback.
    Auto,
    /// io_uring or fail at startup.
    Uring,
    /// Blocking pread/pwrite on helper threads; for kernels without io_uring.
    Fallback,
}

impl IoBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Uring => "uring",
            Self::Fallback => "fallback",
        }
    }
}

impl FromStr for IoBackend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "auto" => Ok(Self::Auto),
            "uring" => Ok(Self::Uring),
            "fallback" => Ok(Self::Fallback),
            _ => Err("expected one of auto, uring, fallback".to_owned()),
        }
    }
}

impl fmt::Display for IoBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One member of a DLedger group: `n0-127.0.0.1:40911` in `dLegerPeers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DledgerPeer {
    pub id: String,
    pub host: String,
    pub port: u16,
}

impl fmt::Display for DledgerPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}:{}", self.id, self.host, self.port)
    }
}

/// `true` or `false`, any case. Java's `Boolean.parseBoolean` reads every other word as
/// `false` without complaint; `autoCreateTopicEnable=yes` is an error here instead.
pub(crate) fn boolean(text: &str) -> Result<bool, String> {
    if text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("expected true or false".to_owned())
    }
}

/// A decimal integer as `Integer.parseInt` reads it: optional sign, ASCII digits only.
fn integer(text: &str) -> Option<i128> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    let body = digits.strip_prefix('-').unwrap_or(digits);
    if body.is_empty() || body.len() > 30 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// An integer in `min..=max`, converted to the field's type.
pub(crate) fn int_in<T: TryFrom<i128>>(
    text: &str,
    min: i128,
    max: i128,
    what: &str,
) -> Result<T, String> {
    let expected = || format!("expected {what} from {min} to {max}");
    let value = integer(text).ok_or_else(expected)?;
    if value < min || value > max {
        return Err(expected());
    }
    T::try_from(value).map_err(|_| expected())
}

/// A Java `int` (for keys only checked, not used).
pub(crate) fn java_int(text: &str) -> Result<i32, String> {
    int_in(
        text,
        i32::MIN.into(),
        i32::MAX.into(),
        "an integer (Java int)",
    )
}

/// A Java `long` (for keys only checked, not used).
pub(crate) fn java_long(text: &str) -> Result<i64, String> {
    int_in(
        text,
        i64::MIN.into(),
        i64::MAX.into(),
        "an integer (Java long)",
    )
}

/// A Java `double` (for keys only checked, not used).
pub(crate) fn java_double(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| "expected a decimal number".to_owned())
}

/// A TCP port, 1-65535.
pub(crate) fn port(text: &str) -> Result<u16, String> {
    integer(text)
        .and_then(|v| u16::try_from(v).ok())
        .filter(|&p| p != 0)
        .ok_or_else(|| "expected a port number 1-65535".to_owned())
}

/// `host:port` with a non-empty host without blanks and a valid port. The host may be a name
/// (seed guides use `rocketmq-nameserver1:9876` from /etc/hosts) or an IPv4 address; IPv6
/// needs brackets, `[::1]:9876`, as in Java's address parsing.
pub(crate) fn host_port(text: &str) -> Result<(String, u16), String> {
    let expected = || "expected host:port, e.g. 127.0.0.1:9876".to_owned();
    let (host, port_text) = text.rsplit_once(':').ok_or_else(expected)?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if bare.is_empty() || host.chars().any(char::is_whitespace) || bare.contains(['[', ']']) {
        return Err(expected());
    }
    if !host.starts_with('[') && host.contains(':') {
        return Err("expected host:port; write an IPv6 host in brackets, [::1]:9876".to_owned());
    }
    let port = port(port_text).map_err(|_| expected())?;
    Ok((host.to_owned(), port))
}

/// `namesrvAddr`: `host:port` entries separated by `;`. Blanks around entries and empty
/// entries (a trailing `;`) are tolerated, as RocketMQ's client splits the same way.
pub(crate) fn address_list(text: &str) -> Result<Vec<String>, String> {
    let mut addresses = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        host_port(part).map_err(|_| {
            format!("expected host:port entries separated by ';' (bad entry {part:?})")
        })?;
        addresses.push(part.to_owned());
    }
    Ok(addresses)
}

/// `deleteWhen`: hours of the day, `04` or `04;16`. RocketMQ compares each with the current
/// hour, so an hour outside 0-23 means "never delete", which is never what was meant.
pub(crate) fn delete_hours(text: &str) -> Result<Vec<u8>, String> {
    let expected = || "expected hours 0-23 separated by ';', e.g. 04 or 04;16".to_owned();
    let mut hours = Vec::new();
    for part in text.split(';').map(str::trim) {
        let hour: u8 = int_in(part, 0, 23, "an hour").map_err(|_| expected())?;
        if !hours.contains(&hour) {
            hours.push(hour);
        }
    }
    Ok(hours)
}

/// `messageDelayLevel`: blank-separated durations with unit s, m, h or d (`1s 5s … 2h`).
pub(crate) fn delay_levels(text: &str) -> Result<Vec<Duration>, String> {
    let expected = || "expected durations like 1s 5m 2h 1d separated by spaces".to_owned();
    let mut levels = Vec::new();
    for token in text.split_whitespace() {
        let (number, unit) = token.split_at(token.len().saturating_sub(1));
        let seconds_per_unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(expected()),
        };
        let count: u64 =
            int_in(number, 1, i128::from(u32::MAX), "a count").map_err(|_| expected())?;
        levels.push(Duration::from_secs(count * seconds_per_unit));
    }
    if levels.is_empty() {
        return Err(expected());
    }
    Ok(levels)
}

/// `dLegerPeers`: `id-host:port` entries separated by `;`, ids unique.
pub(crate) fn dledger_peers(text: &str) -> Result<Vec<DledgerPeer>, String> {
    let expected = |part: &str| {
        format!(
            "expected id-host:port entries separated by ';', e.g. n0-127.0.0.1:40911 \
             (bad entry {part:?})"
        )
    };
    let mut peers: Vec<DledgerPeer> = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (id, address) = part.split_once('-').ok_or_else(|| expected(part))?;
        let (host, port) = host_port(address).map_err(|_| expected(part))?;
        if id.is_empty() {
            return Err(expected(part));
        }
        if peers.iter().any(|p| p.id == id) {
            return Err(format!("expected unique peer ids (id {id} appears twice)"));
        }
        peers.push(DledgerPeer {
            id: id.to_owned(),
            host,
            port,
        });
    }
    Ok(peers)
}

/// A non-empty name without blanks (`brokerName`, `brokerClusterName`, `dLegerGroup`).
pub(crate) fn name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().any(char::is_whitespace) {
        return Err("expected a non-empty name without spaces".to_owned());
    }
    Ok(text.to_owned())
}

/// A host name or IP address without a port (`brokerIP1`, `brokerIP2`).
pub(crate) fn host(text: &str) -> Result<String, String> {
    if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err("expected an IP address or host name".to_owned());
    }
    if text.contains(':') && text.parse::<std::net::Ipv6Addr>().is_err() {
        return Err("expected an IP address or host name without a port".to_owned());
    }
    Ok(text.to_owned())
}

/// A filesystem path; `~` and `~/…` expand from the home directory, other text is kept as
/// written (relative paths resolve against the working directory, as in RocketMQ).
pub(crate) fn path(text: &str, home: Option<&Path>) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("expected a directory or file path".to_owned());
    }
    let rest = if text == "~" {
        Some("")
    } else {
        text.strip_prefix("~/")
    };
    match (rest, home) {
        (None, _) => Ok(PathBuf::from(text)),
        (Some(rest), Some(home)) => Ok(home.join(rest)),
        (Some(_), None) => {
            Err("expected an absolute path: $HOME is not set, so ~ cannot be expanded".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_reject_zero_words_and_overflow() {
        assert_eq!(port("10911"), Ok(10911));
        assert_eq!(port("+80"), Ok(80));
        for bad in ["0", "65536", "abc", "", "-1", "1e3", " 1"] {
            assert_eq!(
                port(bad),
                Err("expected a port number 1-65535".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn booleans_are_strict_unlike_java() {
        assert_eq!(boolean("TRUE"), Ok(true));
        assert_eq!(boolean("false"), Ok(false));
        assert!(boolean("yes").is_err());
    }

    #[test]
    fn address_lists_accept_hostnames_and_trailing_semicolon() {
        assert_eq!(
            address_list("rocketmq-nameserver1:9876; 10.0.0.2:9876;"),
            Ok(vec![
                "rocketmq-nameserver1:9876".to_owned(),
                "10.0.0.2:9876".to_owned()
            ])
        );
        assert!(address_list("10.0.0.1").is_err());
        assert!(address_list("10.0.0.1:0").is_err());
        assert!(address_list("10.0.0.1:9876,10.0.0.2:9876").is_err());
        assert_eq!(host_port("[::1]:9876"), Ok(("[::1]".to_owned(), 9876)));
        assert!(host_port("::1:9876").is_err());
    }

    #[test]
    fn delete_hours_accept_lists_and_reject_25() {
        assert_eq!(delete_hours("04"), Ok(vec![4]));
        assert_eq!(delete_hours("04;16"), Ok(vec![4, 16]));
        assert!(delete_hours("25").is_err());
        assert!(delete_hours("04,16").is_err());
        assert!(delete_hours("").is_err());
    }

    #[test]
    fn delay_levels_match_rocketmq_default_table() {
        let levels = delay_levels("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h")
            .expect("default is valid");
        assert_eq!(levels.len(), 18);
        assert_eq!(levels[17], Duration::from_secs(7200));
        assert!(delay_levels("1x").is_err());
        assert!(delay_levels("").is_err());
    }

    #[test]
    fn dledger_peers_need_ids_and_unique_ids() {
        let peers = dledger_peers("n0-127.0.0.1:40911;n1-127.0.0.1:40912").expect("valid");
        assert_eq!(peers[1].to_string(), "n1-127.0.0.1:40912");
        assert!(dledger_peers("127.0.0.1:40911").is_err());
        assert!(dledger_peers("n0-127.0.0.1:1;n0-127.0.0.1:2").is_err());
    }

    #[test]
    fn tilde_expands_only_with_a_home() {
        let home = Path::new("/home/mq");
        assert_eq!(
            path("~/store", Some(home)),
            Ok(PathBuf::from("/home/mq/store"))
        );
        assert_eq!(path("~", Some(home)), Ok(PathBuf::from("/home/mq")));
        assert_eq!(path("./../data", None), Ok(PathBuf::from("./../data")));
        assert!(path("~/store", None).is_err());
        assert_eq!(path("~user/x", None), Ok(PathBuf::from("~user/x")));
    }

    #[test]
    fn ranges_name_the_bounds() {
        let err = int_in::<u32>("-5", 1, 10, "a size in bytes").expect_err("negative");
        assert_eq!(err, "expected a size in bytes from 1 to 10");
    }
}
