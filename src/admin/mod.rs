//! `ringmq admin <command>` (also `mqadmin <command>`): RocketMQ's operator tool against ringmq
//! or Java name servers and brokers, with the same command names, flags and text output, plus
//! `--format json` for scripts.
//!
//! The name server list comes from `-n 'host:9876;host2:9876'`, else from `NAMESRV_ADDR`.

mod client;
mod clock;
mod commands;
mod invocation;
mod json;
mod message;
mod produce;
mod pull;
mod trace;

use client::AdminError;
use commands::COMMANDS;
use invocation::Invocation;

/// Run the admin tool; returns the process exit code.
pub(crate) fn run(args: &[String]) -> i32 {
    let Some(name) = args.first() else {
        print_command_list();
        return 0;
    };
    if name == "help" || name == "-h" || name == "--help" {
        return help(args.get(1).map(String::as_str));
    }
    let Some(command) = COMMANDS.iter().find(|command| command.name == name) else {
        eprintln!("The sub command {name} not exist.");
        return 1;
    };
    if args[1..].iter().any(|arg| arg == "-h" || arg == "--help") {
        print_command_help(command);
        return 0;
    }
    let outcome = Invocation::parse(command, &args[1..]).and_then(|invocation| {
        let namesrv = std::env::var("NAMESRV_ADDR").ok();
        (command.run)(&invocation.with_namesrv_fallback(namesrv))
    });
    match outcome {
        Ok(()) => 0,
        Err(error @ AdminError::Usage(_)) => {
            eprintln!("{name}: {error}");
            eprintln!("Run `ringmq admin help {name}` for its flags.");
            2
        }
        Err(error) => {
            eprintln!("{name} failed: {error}");
            1
        }
    }
}

fn print_command_list() {
    println!("The most commonly used mqadmin commands are:");
    for command in COMMANDS {
        println!("   {:<35} {}", command.name, command.description);
    }
    println!();
    println!("See 'mqadmin help <command>' for more information on a specific command.");
}

fn help(name: Option<&str>) -> i32 {
    let Some(name) = name else {
        print_command_list();
        return 0;
    };
    if let Some(command) = COMMANDS.iter().find(|command| command.name == name) {
        print_command_help(command);
        0
    } else {
        eprintln!("The sub command {name} not exist.");
        1
    }
}

fn print_command_help(command: &commands::Command) {
    println!("usage: mqadmin {} [flags]", command.name);
    println!("{}", command.description);
    for option in invocation::GLOBAL_OPTIONS.iter().chain(command.options) {
        let value = if option.takes_value { " <arg>" } else { "" };
        let flag = if option.short.is_empty() {
            format!("   --{}{value}", option.long)
        } else {
            format!("-{},--{}{value}", option.short, option.long)
        };
        let required = if option.required { " (required)" } else { "" };
        println!(" {flag:<32} {}{required}", option.description);
    }
}
