//! `ringmq shutdown broker|namesrv` (also `mqshutdown broker`): send SIGTERM to the local
//! processes running that role, which then shut down cleanly (flush, checkpoint, remove
//! `abort`, unregister), as RocketMQ's `mqshutdown` does with `kill`.

use std::path::Path;
use std::process::Command;

const USAGE: &str = "usage: ringmq shutdown <broker|namesrv>";

/// The role a process plays, from its command line (`ringmq broker …` or `mqbroker …`).
fn role_of(arguments: &[String]) -> Option<&'static str> {
    let program = Path::new(arguments.first()?).file_name()?.to_str()?;
    match program {
        "mqbroker" => Some("broker"),
        "mqnamesrv" => Some("namesrv"),
        "ringmq" => match arguments.get(1).map(String::as_str) {
            Some("broker") => Some("broker"),
            Some("namesrv") => Some("namesrv"),
            Some("dev") => Some("dev"),
            _ => None,
        },
        _ => None,
    }
}

/// Process ids of local processes playing `role` (a `dev` process plays both).
fn processes(role: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id();
    entries
        .flatten()
        .filter_map(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
        })
        .filter(|pid| *pid != own)
        .filter(|pid| {
            let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let arguments: Vec<String> = raw
                .split(|byte| *byte == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            matches!(role_of(&arguments), Some(found) if found == role || found == "dev")
        })
        .collect()
}

/// Entry point; returns the exit code.
pub(crate) fn run(args: &[String]) -> i32 {
    let Some(role @ ("broker" | "namesrv")) = args.first().map(String::as_str) else {
        eprintln!("{USAGE}");
        return 2;
    };
    let pids = processes(role);
    if pids.is_empty() {
        eprintln!("No ringmq {role} running.");
        return 1;
    }
    let mut code = 0;
    for pid in pids {
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        match sent {
            Ok(status) if status.success() => {
                println!("The ringmq {role}({pid}) is running; sent SIGTERM to shut it down.");
            }
            _ => {
                eprintln!("cannot signal ringmq {role} process {pid}");
                code = 1;
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn roles_are_read_from_ringmq_and_rocketmq_command_lines() {
        assert_eq!(
            role_of(&strings(&["/usr/bin/ringmq", "broker", "-c", "x"])),
            Some("broker")
        );
        assert_eq!(role_of(&strings(&["mqbroker", "-c", "x"])), Some("broker"));
        assert_eq!(role_of(&strings(&["./ringmq", "namesrv"])), Some("namesrv"));
        assert_eq!(role_of(&strings(&["ringmq", "shutdown", "broker"])), None);
        assert_eq!(role_of(&strings(&["bash"])), None);
    }
}
