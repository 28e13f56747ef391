//! One parsed admin command line: which flags were given with which values, checked against
//! the command's option table (unknown flags and missing required flags are usage errors).

use std::collections::BTreeMap;

use super::client::AdminError;
use super::commands::Command;

/// One flag a command accepts. An empty `short` makes a long-only flag (`--count`), for
/// ringmq additions that RocketMQ has no letter for.
#[derive(Debug)]
pub(crate) struct OptionSpec {
    pub(crate) short: &'static str,
    pub(crate) long: &'static str,
    pub(crate) takes_value: bool,
    pub(crate) required: bool,
    pub(crate) description: &'static str,
}

/// Flags every command accepts.
pub(crate) const GLOBAL_OPTIONS: &[OptionSpec] = &[
    OptionSpec {
        short: "n",
        long: "namesrvAddr",
        takes_value: true,
        required: false,
        description: "Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'",
    },
    OptionSpec {
        short: "h",
        long: "help",
        takes_value: false,
        required: false,
        description: "Print help",
    },
    OptionSpec {
        short: "F",
        long: "format",
        takes_value: true,
        required: false,
        description: "Output format: text (default, as RocketMQ prints) or json",
    },
];

/// Output format chosen by `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json,
}

/// A command line checked against its command's options; values keyed by long name.
#[derive(Debug)]
pub(crate) struct Invocation {
    values: BTreeMap<&'static str, String>,
    /// The name servers came from `NAMESRV_ADDR`, not `-n` (RocketMQ prints them differently).
    namesrv_from_env: bool,
}

impl Invocation {
    pub(crate) fn parse(command: &Command, args: &[String]) -> Result<Self, AdminError> {
        let mut values = BTreeMap::new();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            let spec = find_option(command, arg)
                .ok_or_else(|| AdminError::Usage(format!("unknown flag {arg}")))?;
            let value = if spec.takes_value {
                rest.next()
                    .ok_or_else(|| AdminError::Usage(format!("flag {arg} needs a value")))?
                    .clone()
            } else {
                "true".to_owned()
            };
            values.insert(spec.long, value);
        }
        if let Some(missing) = command
            .options
            .iter()
            .find(|spec| spec.required && !values.contains_key(spec.long))
        {
            return Err(AdminError::Usage(format!(
                "missing required flag -{} (--{}): {}",
                missing.short, missing.long, missing.description
            )));
        }
        Ok(Self {
            values,
            namesrv_from_env: false,
        })
    }

    /// Use `NAMESRV_ADDR` when `-n` was not given.
    pub(crate) fn with_namesrv_fallback(mut self, namesrv: Option<String>) -> Self {
        if let Some(addresses) = namesrv.filter(|text| !text.trim().is_empty()) {
            if !self.values.contains_key("namesrvAddr") {
                self.values.insert("namesrvAddr", addresses);
                self.namesrv_from_env = true;
            }
        }
        self
    }

    /// Whether the name servers came from `NAMESRV_ADDR` rather than `-n`.
    pub(crate) fn namesrv_from_env(&self) -> bool {
        self.namesrv_from_env
    }

    /// The value of a flag by its long name.
    pub(crate) fn value(&self, long: &str) -> Option<&str> {
        self.values.get(long).map(String::as_str)
    }

    /// The value of a flag the option table marks required.
    pub(crate) fn required(&self, long: &str) -> Result<&str, AdminError> {
        self.value(long)
            .ok_or_else(|| AdminError::Usage(format!("missing flag --{long}")))
    }

    /// A numeric flag of any type, or `default` when absent.
    pub(crate) fn number<T: std::str::FromStr>(
        &self,
        long: &str,
        default: T,
    ) -> Result<T, AdminError> {
        self.value(long).map_or(Ok(default), |text| {
            text.trim()
                .parse()
                .map_err(|_| AdminError::Usage(format!("--{long} takes a number, not '{text}'")))
        })
    }

    /// A boolean flag taking a value, read as Java's `Boolean.parseBoolean` does (only `true`,
    /// in any case, is true), or `default` when absent.
    pub(crate) fn boolean(&self, long: &str, default: bool) -> bool {
        self.value(long)
            .map_or(default, |text| text.trim().eq_ignore_ascii_case("true"))
    }

    /// A boolean flag: present without a value, or given `true`.
    pub(crate) fn flag(&self, long: &str) -> bool {
        self.value(long)
            .is_some_and(|text| text.trim().eq_ignore_ascii_case("true"))
    }

    /// Name server addresses from `-n` (or `NAMESRV_ADDR`), split on `;`.
    pub(crate) fn namesrv(&self) -> Result<Vec<String>, AdminError> {
        let addresses: Vec<String> = self
            .value("namesrvAddr")
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|address| !address.is_empty())
            .map(str::to_owned)
            .collect();
        if addresses.is_empty() {
            return Err(AdminError::NoNameServer);
        }
        Ok(addresses)
    }

    pub(crate) fn format(&self) -> Result<Format, AdminError> {
        match self.value("format") {
            None | Some("text") => Ok(Format::Text),
            Some("json") => Ok(Format::Json),
            Some(other) => Err(AdminError::Usage(format!(
                "--format takes text or json, not '{other}'"
            ))),
        }
    }
}

fn find_option(command: &Command, arg: &str) -> Option<&'static OptionSpec> {
    let (name, long) = match arg.strip_prefix("--") {
        Some(name) => (name, true),
        None => (arg.strip_prefix('-')?, false),
    };
    GLOBAL_OPTIONS.iter().chain(command.options).find(|spec| {
        if long {
            spec.long == name
        } else {
            !spec.short.is_empty() && spec.short == name
        }
    })
}
