//! Finding where a topic lives: its route from the name servers, creating the topic on every
//! master of the cluster when it does not exist yet.

use std::time::Duration;

use ringmq_protocol::body::route::{ClusterInfo, TopicRouteData};
use ringmq_protocol::body::JsonBody;
use ringmq_protocol::{request_code as code, response_code};

use crate::client::{request, Connection};

const TIMEOUT: Duration = Duration::from_secs(5);

/// One writable queue: its broker's address and queue id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Queue {
    pub(crate) broker: String,
    pub(crate) queue_id: i32,
}

fn query(namesrvs: &[String], topic: &str) -> Result<Option<TopicRouteData>, String> {
    let mut last_error = String::from("no name server address given (-n or NAMESRV_ADDR)");
    for address in namesrvs {
        let mut connection = match Connection::connect(address, TIMEOUT) {
            Ok(connection) => connection,
            Err(error) => {
                last_error = format!("name server {address} is unreachable: {error}");
                continue;
            }
        };
        let response = connection
            .call(request(
                code::GET_ROUTEINFO_BY_TOPIC,
                &[("topic", topic.to_owned())],
            ))
            .map_err(|error| format!("name server {address}: {error}"))?;
        return match response.code {
            response_code::SUCCESS => TopicRouteData::decode(&response.body)
                .map(Some)
                .map_err(|e| e.to_string()),
            response_code::TOPIC_NOT_EXIST => Ok(None),
            other => Err(format!(
                "name server {address} answered {other}: {}",
                response.remark.unwrap_or_default()
            )),
        };
    }
    Err(last_error)
}

/// Master brokers of every cluster the name server knows.
fn masters(namesrvs: &[String]) -> Result<Vec<String>, String> {
    for address in namesrvs {
        let Ok(mut connection) = Connection::connect(address, TIMEOUT) else {
            continue;
        };
        let response = connection
            .call(request(code::GET_BROKER_CLUSTER_INFO, &[]))
            .map_err(|e| e.to_string())?;
        let info = ClusterInfo::decode(&response.body).map_err(|e| e.to_string())?;
        return Ok(info
            .broker_addr_table
            .values()
            .filter_map(|broker| broker.broker_addrs.get(&0).cloned())
            .collect());
    }
    Err("no name server is reachable".to_owned())
}

/// Wait until the name servers list a master broker: a broker that just started registers
/// on its own thread, so its name server may not know it yet.
pub(crate) fn wait_for_master(namesrvs: &[String], timeout: Duration) -> Result<(), String> {
    let deadline = crate::clock::now() + timeout;
    loop {
        let known = masters(namesrvs);
        if known.as_ref().is_ok_and(|brokers| !brokers.is_empty()) {
            return Ok(());
        }
        if crate::clock::now() >= deadline {
            return Err(format!(
                "no broker registered with {} within {timeout:?} ({})",
                namesrvs.join(";"),
                known.err().unwrap_or_else(|| "none listed".to_owned())
            ));
        }
        crate::clock::wait_until(crate::clock::now() + Duration::from_millis(20));
    }
}

fn create(namesrvs: &[String], topic: &str, queues: u32) -> Result<(), String> {
    let brokers = masters(namesrvs)?;
    if brokers.is_empty() {
        return Err("the name server knows no master broker; start a broker first".to_owned());
    }
    for broker in brokers {
        let mut connection =
            Connection::connect(&broker, TIMEOUT).map_err(|e| format!("broker {broker}: {e}"))?;
        let response = connection
            .call(request(
                code::UPDATE_AND_CREATE_TOPIC,
                &[
                    ("topic", topic.to_owned()),
                    ("defaultTopic", "TBW102".to_owned()),
                    ("readQueueNums", queues.to_string()),
                    ("writeQueueNums", queues.to_string()),
                    ("perm", "6".to_owned()),
                    ("topicFilterType", "SINGLE_TAG".to_owned()),
                    ("order", "false".to_owned()),
                ],
            ))
            .map_err(|e| format!("broker {broker}: {e}"))?;
        if response.code != response_code::SUCCESS {
            return Err(format!(
                "broker {broker} refused to create {topic}: {}",
                response.remark.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Every writable queue of `topic` on a master, creating the topic with `queues` queues per
/// master if it does not exist.
pub(crate) fn resolve(namesrvs: &[String], topic: &str, queues: u32) -> Result<Vec<Queue>, String> {
    let mut route = query(namesrvs, topic)?;
    if route.is_none() {
        create(namesrvs, topic, queues)?;
        for _ in 0..100 {
            route = query(namesrvs, topic)?;
            if route.is_some() {
                break;
            }
            crate::clock::wait_until(crate::clock::now() + Duration::from_millis(50));
        }
    }
    let route =
        route.ok_or_else(|| format!("topic {topic} did not appear in the name server's routes"))?;
    let mut found = Vec::new();
    for queue_data in &route.queue_datas {
        let Some(broker) = route
            .broker_datas
            .iter()
            .find(|b| b.broker_name == queue_data.broker_name)
        else {
            continue;
        };
        let Some(address) = broker.broker_addrs.get(&0) else {
            continue;
        };
        for queue_id in 0..queue_data.write_queue_nums {
            found.push(Queue {
                broker: address.clone(),
                queue_id,
            });
        }
    }
    if found.is_empty() {
        return Err(format!("topic {topic} has no writable queue on a master"));
    }
    Ok(found)
}
