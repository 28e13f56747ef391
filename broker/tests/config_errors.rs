//! Goal: every way an operator can get a broker config wrong produces the documented message
//! (`file:line: key=value: expected …`), all problems of a file are reported in one run, and
//! the lenient parts (unknown keys, repeats, old spellings) behave as `config.rs` documents.
//! Also pins `-p`/`-m` output and the derived values (ports, store paths, `~`).
//!
//! Method: small inline configs through `from_str_with_home` with a fixed home directory, so
//! results do not depend on the environment; one test goes through `load` on a temp file.

use std::path::{Path, PathBuf};

use ringmq_broker::config::{self, ConfigError, IoBackend, LoadedConfig, ProblemKind};

const HOME: &str = "/home/mq";

fn load(text: &str) -> Result<LoadedConfig, ConfigError> {
    config::from_str_with_home(text, "broker-a.properties", Some(Path::new(HOME)))
}

fn ok(text: &str) -> LoadedConfig {
    load(text).unwrap_or_else(|e| panic!("must load:\n{e}"))
}

fn error_lines(text: &str) -> Vec<String> {
    match load(text) {
        Ok(loaded) => panic!("must be rejected, loaded {:?}", loaded.config),
        Err(error) => error.to_string().lines().map(str::to_owned).collect(),
    }
}

fn single_error(text: &str) -> String {
    let lines = error_lines(text);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    lines.into_iter().next().unwrap_or_default()
}

#[test]
fn non_numeric_port_names_key_value_and_range() {
    assert_eq!(
        single_error("listenPort=abc"),
        "broker-a.properties:1: listenPort=abc: expected a port number 1-65535"
    );
    assert_eq!(
        single_error("\nlistenPort=70000"),
        "broker-a.properties:2: listenPort=70000: expected a port number 1-65535"
    );
}

#[test]
fn listen_port_below_3_leaves_no_vip_port() {
    assert_eq!(
        single_error("listenPort=2"),
        "broker-a.properties:1: listenPort=2: expected a port number 3-65535, because the VIP \
         port listenPort-2 must be a port too"
    );
}

#[test]
fn top_listen_port_leaves_no_default_ha_port_unless_set() {
    assert!(single_error("listenPort=65535").contains("HA port defaults to listenPort+1"));
    assert_eq!(
        ok("listenPort=65535\nhaListenPort=20000").config.ha_port(),
        20000
    );
}

#[test]
fn ha_port_on_the_listen_or_vip_port_is_refused() {
    assert!(single_error("listenPort=10911\nhaListenPort=10909")
        .starts_with("broker-a.properties:2: haListenPort=10909 collides with listenPort=10911"));
}

#[test]
fn slave_with_broker_id_0_is_refused_at_the_broker_id_line() {
    assert_eq!(
        single_error("brokerRole=SLAVE\nbrokerId=0"),
        "broker-a.properties:2: brokerId=0 with brokerRole=SLAVE: a slave needs brokerId > 0"
    );
    // Default brokerId 0: the only line to point at is brokerRole's.
    assert_eq!(
        single_error("brokerRole=SLAVE"),
        "broker-a.properties:1: brokerId=0 with brokerRole=SLAVE: a slave needs brokerId > 0"
    );
}

#[test]
fn master_with_nonzero_broker_id_is_refused() {
    assert_eq!(
        single_error("brokerId=1\nbrokerRole=SYNC_MASTER"),
        "broker-a.properties:1: brokerId=1 with brokerRole=SYNC_MASTER: a master needs \
         brokerId=0 (or set brokerRole=SLAVE)"
    );
}

#[test]
fn delete_when_hours_outside_0_to_23_are_refused() {
    assert_eq!(
        single_error("deleteWhen=04;24"),
        "broker-a.properties:1: deleteWhen=04;24: expected hours 0-23 separated by ';', e.g. 04 \
         or 04;16"
    );
    assert_eq!(ok("deleteWhen=04;16").config.delete_hours, vec![4, 16]);
}

#[test]
fn disk_ratio_outside_10_to_95_is_refused_not_clamped() {
    for value in ["5", "96", "-1", "0.75"] {
        assert_eq!(
            single_error(&format!("diskMaxUsedSpaceRatio={value}")),
            format!(
                "broker-a.properties:1: diskMaxUsedSpaceRatio={value}: expected a percentage \
                 from 10 to 95"
            )
        );
    }
}

#[test]
fn negative_sizes_are_refused() {
    assert_eq!(
        single_error("maxMessageSize=-1"),
        "broker-a.properties:1: maxMessageSize=-1: expected a size in bytes from 1 to 2147483647"
    );
    assert!(
        single_error("mappedFileSizeCommitLog=-1073741824").starts_with(
            "broker-a.properties:1: mappedFileSizeCommitLog=-1073741824: expected a \
                      multiple of 4096 bytes"
        )
    );
    assert!(single_error("mapedFileSizeConsumeQueue=-20")
        .contains("mapedFileSizeConsumeQueue=-20: expected a positive multiple of 20"));
    assert!(single_error("fileReservedTime=-1").contains("fileReservedTime=-1: expected hours"));
}

#[test]
fn consume_queue_size_not_a_whole_number_of_entries_is_refused() {
    assert!(single_error("mappedFileSizeConsumeQueue=300001")
        .contains("expected a positive multiple of 20 bytes (one consume-queue entry)"));
}

#[test]
fn message_larger_than_a_segment_is_refused() {
    assert!(
        single_error("mappedFileSizeCommitLog=65536\nmaxMessageSize=65536")
            .starts_with("broker-a.properties:2: maxMessageSize=65536 does not fit in a commitlog")
    );
}

#[test]
fn enum_and_boolean_values_are_exact() {
    let flush = single_error("flushDiskType=SYNC");
    assert!(flush.ends_with("expected one of ASYNC_FLUSH, SYNC_FLUSH"));
    assert!(single_error("ioBackend=epoll").ends_with("expected one of auto, uring, fallback"));
    assert!(single_error("autoCreateTopicEnable=yes").ends_with("expected true or false"));
    assert_eq!(ok("ioBackend=uring").config.io_backend, IoBackend::Uring);
}

#[test]
fn known_rocketmq_keys_are_type_checked_and_kept_raw() {
    assert_eq!(
        single_error("flushConsumeQueueLeastPages=two"),
        "broker-a.properties:1: flushConsumeQueueLeastPages=two: expected an integer (Java int) \
         from -2147483648 to 2147483647"
    );
    let loaded = ok("flushConsumeQueueLeastPages=2\ntransientStorePoolEnable=true");
    assert_eq!(loaded.warnings, Vec::<String>::new());
    assert_eq!(loaded.config.raw("flushConsumeQueueLeastPages"), Some("2"));
    assert_eq!(
        loaded.config.raw("brokerRole"),
        None,
        "typed keys are not raw"
    );
}

#[test]
fn all_problems_are_reported_in_line_order_not_just_the_first() {
    let text =
        "brokerRole=SYSC_MASTER\nlistenPort=abc\n# fine\ndeleteWhen=25\nbrokerId=-1\nk=\\u00zz";
    let lines = error_lines(text);
    assert_eq!(lines.len(), 5, "{lines:#?}");
    let numbers: Vec<&str> = lines
        .iter()
        .map(|l| l.split(':').nth(1).unwrap_or(""))
        .collect();
    assert_eq!(numbers, vec!["1", "2", "4", "5", "6"]);
    assert!(lines[4].contains("malformed \\uXXXX escape"));
    let error = load(text).expect_err("bad");
    assert_eq!(error.problems()[4].kind, ProblemKind::Syntax);
}

#[test]
fn unknown_key_is_a_warning_with_a_suggestion_when_it_looks_like_a_typo() {
    let loaded = ok("brokername=broker-x\nstorePathConsumerQueue=/data/cq\nfooBar=1");
    assert_eq!(
        loaded.warnings,
        vec![
            "broker-a.properties:1: unknown key brokername is ignored (not a RocketMQ or ringmq \
             setting); did you mean brokerName?",
            "broker-a.properties:2: unknown key storePathConsumerQueue is ignored (not a \
             RocketMQ or ringmq setting); did you mean storePathConsumeQueue?",
            "broker-a.properties:3: unknown key fooBar is ignored (not a RocketMQ or ringmq \
             setting)",
        ]
    );
    assert_eq!(
        loaded.config.broker_name, "broker-a",
        "the unknown key changed nothing"
    );
}

// Hazard: RocketMQ steers slow consumers per subscription group; a broker-wide key would
// silently override what `updateSubGroup -w` set, so the file's key must be refused with the
// command that does the job.
#[test]
fn which_broker_when_consume_slowly_in_a_broker_file_points_to_update_sub_group() {
    let loaded = ok("whichBrokerWhenConsumeSlowly=2");
    assert_eq!(
        loaded.warnings,
        vec![
            "broker-a.properties:1: whichBrokerWhenConsumeSlowly is ignored here: RocketMQ \
             keeps it per subscription group, not in the broker's file; set it with \
             `updateSubGroup -g <group> -w <brokerId>`"
        ]
    );
}

#[test]
fn repeated_key_warns_and_the_later_value_wins() {
    let loaded = ok("listenPort=10911\nlistenPort=10921");
    assert_eq!(loaded.config.listen_port, 10921);
    assert_eq!(
        loaded.warnings,
        vec![
            "broker-a.properties:2: listenPort is set again (first on line 1); the later value \
             \"10921\" is used"
        ]
    );
}

#[test]
fn old_maped_spelling_sets_the_same_field_as_mapped() {
    let old = ok("mapedFileSizeCommitLog=134217728\nmapedFileSizeConsumeQueue=600000");
    assert_eq!(old.config.commitlog_segment_bytes, 134_217_728);
    assert_eq!(old.config.consume_queue_file_bytes, 600_000);
    assert_eq!(old.warnings, Vec::<String>::new());
    let both_equal = ok("mapedFileSizeCommitLog=134217728\nmappedFileSizeCommitLog=134217728");
    assert_eq!(both_equal.config.commitlog_segment_bytes, 134_217_728);
}

#[test]
fn old_and_new_spelling_with_different_values_conflict_instead_of_one_silently_winning() {
    let error = load("mapedFileSizeCommitLog=1073741824\nmappedFileSizeCommitLog=134217728")
        .expect_err("conflict");
    assert_eq!(
        error.to_string(),
        "broker-a.properties:2: mappedFileSizeCommitLog=134217728 conflicts with \
         mapedFileSizeCommitLog=1073741824 on line 1: both spell one setting \
         (mappedFileSizeCommitLog); keep one of them"
    );
    assert_eq!(error.problems()[0].kind, ProblemKind::Conflict);
}

#[test]
fn dledger_self_id_must_name_a_peer() {
    let text = "enableDLegerCommitLog=true\ndLegerGroup=g\n\
                dLegerPeers=n0-127.0.0.1:40911;n1-127.0.0.1:40912\ndLegerSelfId=n3";
    assert_eq!(
        single_error(text),
        "broker-a.properties:4: dLegerSelfId=n3: expected one of the ids in dLegerPeers (n0, n1)"
    );
    assert!(
        single_error("enableDLegerCommitLog=true\ndLegerGroup=g\ndLegerSelfId=n0")
            .contains("needs dLegerPeers")
    );
    // Without enableDLegerCommitLog the keys are parsed but not required to agree.
    assert!(!ok("dLegerSelfId=n3").config.dledger_enable);
}

#[test]
fn derived_ports_and_addresses_follow_rocketmq() {
    let config = ok("listenPort=10921\nbrokerIP1=10.0.0.5\nnamesrvAddr=a:9876;b:9876").config;
    assert_eq!(config.vip_port(), 10919);
    assert_eq!(config.ha_port(), 10922);
    assert_eq!(config.advertised_addr(), Some("10.0.0.5:10921".to_owned()));
    assert_eq!(
        config.ha_advertised_addr(),
        Some("10.0.0.5:10922".to_owned())
    );
    assert_eq!(
        config.namesrv_addrs(),
        vec!["a:9876".to_owned(), "b:9876".to_owned()]
    );
    assert_eq!(
        ok("").config.advertised_addr(),
        None,
        "unset brokerIP1 is not guessed"
    );
}

#[test]
fn store_paths_default_under_the_root_and_honour_explicit_ones() {
    let paths = ok("storePathRootDir=~/s\nstorePathIndex=/fast/index")
        .config
        .store_paths();
    let root = PathBuf::from("/home/mq/s");
    assert_eq!(paths.root, root);
    assert_eq!(paths.commitlog, root.join("commitlog"));
    assert_eq!(paths.consume_queue, root.join("consumequeue"));
    assert_eq!(paths.index, PathBuf::from("/fast/index"));
    assert_eq!(paths.checkpoint, root.join("checkpoint"));
    assert_eq!(paths.abort, root.join("abort"));
    assert_eq!(paths.lock, root.join("lock"));
    assert_eq!(paths.config, root.join("config"));
    assert_eq!(
        ok("").config.store_paths().root,
        PathBuf::from("/home/mq/store")
    );
}

#[test]
fn store_locations_on_one_path_are_refused() {
    assert!(
        single_error("storePathRootDir=/s\nstorePathIndex=/s/commitlog")
            .contains("storePathIndex=/s/commitlog: same path as storePathCommitLog")
    );
}

#[test]
fn home_less_environment_needs_explicit_paths() {
    let error = config::from_str_with_home("", "b", None).expect_err("no $HOME");
    assert!(error
        .to_string()
        .contains("storePathRootDir defaults to ~/store, but $HOME is not set"));
    let text = "storePathRootDir=/s\nlogDir=/l";
    assert!(config::from_str_with_home(text, "b", None).is_ok());
    assert!(config::from_str_with_home("storePathRootDir=~/x", "b", None).is_err());
}

#[test]
fn command_line_namesrv_overrides_the_file_and_is_checked() {
    let mut config = ok("namesrvAddr=10.0.0.1:9876").config;
    config
        .set_namesrv_addr("127.0.0.1:9876;127.0.0.2:9876")
        .expect("valid");
    assert_eq!(
        config.namesrv_addrs(),
        vec!["127.0.0.1:9876", "127.0.0.2:9876"]
    );
    let error = config.set_namesrv_addr("127.0.0.1").expect_err("no port");
    assert!(error
        .to_string()
        .starts_with("-n: namesrvAddr=127.0.0.1: expected host:port"));
}

#[test]
fn print_all_lists_typed_and_known_keys_sorted_with_effective_values() {
    let config =
        ok("listenPort=10921\nflushConsumeQueueLeastPages=7\nmapedFileSizeCommitLog=134217728")
            .config;
    let printed = config.print_all();
    let keys: Vec<&str> = printed
        .lines()
        .map(|l| l.split('=').next().unwrap_or(""))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(keys, sorted);
    assert!(
        keys.len() > 450,
        "every RocketMQ key is listed: {}",
        keys.len()
    );
    for line in [
        "listenPort=10921",
        "haListenPort=10922",
        "flushConsumeQueueLeastPages=7",
        "flushConsumeQueueThoroughInterval=60000",
        "mappedFileSizeCommitLog=134217728",
        "storePathCommitLog=/home/mq/store/commitlog",
        "messageDelayLevel=1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h",
        "brokerRole=ASYNC_MASTER",
        "deleteWhen=04",
    ] {
        assert!(printed.lines().any(|l| l == line), "missing {line}");
    }
    assert!(
        !printed.contains("mapedFileSizeCommitLog"),
        "old spelling is not repeated"
    );
}

#[test]
fn print_important_shows_the_operator_keys_in_order() {
    let text = "brokerName=broker-b\nnamesrvAddr=127.0.0.1:9876\nshards=2\nbrokerIP1=127.0.0.1";
    let printed = ok(text).config.print_important();
    assert_eq!(
        printed,
        "brokerClusterName=DefaultCluster\nbrokerName=broker-b\nbrokerId=0\n\
         brokerRole=ASYNC_MASTER\nflushDiskType=ASYNC_FLUSH\nnamesrvAddr=127.0.0.1:9876\n\
         listenPort=10911\nbrokerIP1=127.0.0.1\nstorePathRootDir=/home/mq/store\n\
         storePathCommitLog=/home/mq/store/commitlog\nmappedFileSizeCommitLog=1073741824\n\
         deleteWhen=04\nfileReservedTime=72\nshards=2\nioBackend=auto\n"
    );
}

#[test]
fn printed_config_loads_back_to_the_same_config() {
    let text = "listenPort=10931\nbrokerRole=SLAVE\nbrokerId=2\ndeleteWhen=4;16\nshards=3";
    let original = ok(text).config;
    // `-p` prints empty values for RocketMQ defaults computed at run time; they read back
    // as unset, so the printed form is a valid config with no warnings.
    let reloaded = ok(&original.print_all());
    assert_eq!(reloaded.warnings, Vec::<String>::new());
    assert_eq!(reloaded.config.print_all(), original.print_all());
    assert_eq!(reloaded.config.store_paths(), original.store_paths());
    assert_eq!(reloaded.config.delete_hours, vec![4, 16]);
}

#[test]
fn load_reads_files_and_names_them_in_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broker-x.properties");
    // A Latin-1 comment byte (0xE9) is not UTF-8; Java reads properties as ISO-8859-1.
    std::fs::write(&path, b"# caf\xe9\nbrokerName=broker-x\nlistenPort=abc\n").expect("write");
    let error = config::load(&path).expect_err("bad port");
    assert_eq!(
        error.to_string(),
        format!(
            "{}:3: listenPort=abc: expected a port number 1-65535",
            path.display()
        )
    );
    let missing = config::load(&dir.path().join("nope.properties")).expect_err("missing");
    assert!(matches!(missing, ConfigError::Read { .. }));
    assert!(missing.to_string().contains("check the path given with -c"));
}

#[test]
fn utf8_byte_order_mark_does_not_hide_the_first_key() {
    assert_eq!(
        ok("\u{feff}brokerName=broker-z").config.broker_name,
        "broker-z"
    );
}

#[test]
fn buffer_pool_bytes_unset_is_sized_at_run_time_and_set_is_kept() {
    // Unset, the pool is sized from RLIMIT_MEMLOCK at start; `-p` prints it empty (a run-time
    // default), and that output reads back as unset rather than as an explicit size.
    let unset = ok("shards=2").config;
    assert_eq!(unset.buffer_pool_bytes, None);
    assert!(unset.print_all().lines().any(|l| l == "bufferPoolBytes="));
    assert_eq!(ok("bufferPoolBytes=").config.buffer_pool_bytes, None);
    let set = ok("bufferPoolBytes=33554432").config;
    assert_eq!(
        set.buffer_pool_bytes,
        Some(32 << 20),
        "the default, but explicit"
    );
    assert!(set
        .print_all()
        .lines()
        .any(|l| l == "bufferPoolBytes=33554432"));
    assert_eq!(
        single_error("bufferPoolBytes=4096"),
        "broker-a.properties:1: bufferPoolBytes=4096: expected a size in bytes from 1048576 \
         to 1099511627776"
    );
}

// Hazard: a maxMessageSize above what the store can hold let large sends through the
// broker's check only to fail in the store; it is refused at start instead, naming the limit.
#[test]
fn max_message_size_above_4_mib_is_refused_and_4_mib_is_accepted() {
    assert_eq!(
        single_error("maxMessageSize=8388608"),
        "broker-a.properties:1: maxMessageSize=8388608 is larger than ringmq stores: at most \
         4194304 bytes (4 MiB, RocketMQ's default)"
    );
    assert_eq!(
        ok("maxMessageSize=4194304").config.max_message_bytes,
        4 << 20
    );
}

#[test]
fn idle_poll_defaults_to_200_micros_and_refuses_words_and_over_a_second() {
    // Hazard: a typo here would make every shard sleep at once or spin for minutes after
    // each event, silently; the error must name the key and the range.
    assert_eq!(ok("shards=1").config.idle_poll_micros, 200);
    assert_eq!(ok("idlePollMicros=0").config.idle_poll_micros, 0);
    for value in ["-1", "fast", "1000001"] {
        assert_eq!(
            single_error(&format!("idlePollMicros={value}")),
            format!(
                "broker-a.properties:1: idlePollMicros={value}: expected microseconds of \
                 polling before a shard sleeps (0 sleeps at once) from 0 to 1000000"
            )
        );
    }
}
