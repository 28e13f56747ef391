//! Goal: the real `rocketmq-client-rust` 1.0.0 crate (the Rust RocketMQ client on crates.io)
//! can read routes and cluster info from our name server.
//! Method: register a master and a slave over raw TCP, then ask through the client's admin API
//! (`DefaultMQAdminExt::examine_topic_route_info`, which calls the same
//! `get_topic_route_info_from_name_server` its producers and consumers use) on its own runtime.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod support;

use std::sync::Arc;

use rocketmq_client_rust::{
    ClientRuntime, ClientRuntimeConfig, DefaultMQAdminExt, MQAdminReadExt, TelemetryHandle,
};
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};
use support::{Broker, TestNamesrv};

fn register_master_and_slave(namesrv: &TestNamesrv) {
    let mut client = namesrv.client();
    for (id, addr) in [(0, "127.0.0.1:10911"), (1, "127.0.0.1:10921")] {
        let broker = Broker {
            cluster: "DefaultCluster",
            name: "broker-a",
            id,
            addr,
            ha_addr: "127.0.0.1:10912",
            topics: &["InteropTopic"],
            heartbeat_timeout_ms: None,
        };
        assert_eq!(client.call(broker.register_request()).code, 0);
    }
    // Keep the registering connection open until the end: closing it removes the brokers.
    std::mem::forget(client);
}

#[test]
fn rust_client_admin_decodes_our_route_and_cluster_replies() {
    let namesrv = TestNamesrv::start();
    register_master_and_slave(&namesrv);
    let owner = RuntimeOwner::plan(RuntimeConfig {
        thread_name: "interop-client".to_owned(),
        worker_threads: 2,
        ..RuntimeConfig::default()
    })
    .expect("runtime plan")
    .build()
    .expect("runtime");
    let runtime: Arc<ClientRuntime> = ClientRuntime::try_new(
        owner.root_context().component("client"),
        ClientRuntimeConfig::default(),
        TelemetryHandle::noop(),
    )
    .expect("client runtime");
    let namesrv_addr = namesrv.handle.namesrv_addr();
    owner.block_on(async {
        let mut admin = DefaultMQAdminExt::new(Arc::clone(&runtime));
        admin.set_namesrv_addr(namesrv_addr.as_str());
        admin.start().await.expect("admin starts");

        let route = admin
            .examine_topic_route_info("InteropTopic".into())
            .await
            .expect("route request succeeds")
            .expect("route exists");
        assert_eq!(route.queue_datas.len(), 1);
        assert_eq!(route.queue_datas[0].read_queue_nums, 4);
        assert_eq!(route.broker_datas.len(), 1);
        let addrs = route.broker_datas[0].broker_addrs();
        assert_eq!(addrs[&0].as_str(), "127.0.0.1:10911");
        assert_eq!(addrs[&1].as_str(), "127.0.0.1:10921");

        let missing = admin.examine_topic_route_info("NoSuchTopic".into()).await;
        assert!(
            !matches!(missing, Ok(Some(_))),
            "unknown topic must not yield a route: {missing:?}"
        );

        let cluster = admin
            .examine_broker_cluster_info()
            .await
            .expect("cluster info");
        let table = cluster.broker_addr_table.expect("broker table");
        assert!(table.keys().any(|name| name.as_str() == "broker-a"));

        admin.shutdown().await;
        runtime.shutdown().await;
    });
    owner
        .shutdown_runtime_blocking()
        .expect("runtime shuts down");
    namesrv.handle.shutdown().expect("name server stops");
}
