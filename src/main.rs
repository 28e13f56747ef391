//! The `ringmq` binary: one executable, several roles chosen by subcommand or by the name it
//! was invoked under (`mqnamesrv`, `mqbroker`, `mqadmin`, `mqshutdown`), so RocketMQ
//! runbooks keep working with a symlink.

#![forbid(unsafe_code)]

use std::path::Path;

mod admin;
mod cluster;
mod dev;
mod embedded;
mod shutdown;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: ringmq <command> [options]

commands:
  dev         a name server and a broker in one process, for development
  namesrv     run a name server (also invoked as mqnamesrv)
  broker      run a broker (also invoked as mqbroker)
  bench       load generators and gates: bench produce, consume, compare
  admin       operate a cluster: clusterList, topicList, updateTopic... (also invoked as mqadmin)
  shutdown    stop local brokers or name servers cleanly (also invoked as mqshutdown)
  help        print this help

Run `ringmq <command> -h` for the options of a command.";

/// The role implied by the executable's file name, if it is one of RocketMQ's scripts.
fn role_from_program_name(program: &str) -> Option<&'static str> {
    match Path::new(program).file_name()?.to_str()? {
        "mqnamesrv" => Some("namesrv"),
        "mqbroker" => Some("broker"),
        "mqadmin" => Some("admin"),
        "mqshutdown" => Some("shutdown"),
        _ => None,
    }
}

fn run(role: &str, args: &[String]) -> i32 {
    match role {
        "namesrv" => ringmq_namesrv::run(args),
        "broker" => ringmq_broker::run(args),
        "dev" => dev::run(args),
        "bench" => ringmq_bench::run(args, &embedded::launch),
        "shutdown" => shutdown::run(args),
        "admin" => {
            ringmq_engine::io::signals::restore_default_sigpipe();
            admin::run(args)
        }
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            0
        }
        other => {
            eprintln!("ringmq: unknown command '{other}'\n{USAGE}");
            2
        }
    }
}

fn main() {
    let arguments: Vec<String> = std::env::args().collect();
    let program = arguments.first().map_or("ringmq", String::as_str);
    let code = match role_from_program_name(program) {
        Some(role) => run(role, &arguments[1..]),
        None => {
            if let Some(command) = arguments.get(1) {
                run(command, &arguments[2..])
            } else {
                eprintln!("{USAGE}");
                2
            }
        }
    };
    std::process::exit(code);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rocketmq_script_names_select_their_role() {
        assert_eq!(
            role_from_program_name("/opt/rocketmq/bin/mqnamesrv"),
            Some("namesrv")
        );
        assert_eq!(role_from_program_name("mqbroker"), Some("broker"));
        assert_eq!(role_from_program_name("./ringmq"), None);
    }
}
