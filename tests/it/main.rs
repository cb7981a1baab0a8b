//! One integration test binary: real servers on port 0, real WebSocket clients, a real
//! `redis-server` started by the harness.

mod api;
mod api_permissions;
mod asyncapi;
mod catalog;
mod channels;
mod edge;
mod engine;
mod fair_permissions;
mod fair_proto;
mod fairs;
mod helpers;
mod multinode;
mod order_trust;
mod orders;
mod proto;
mod redis_faults;
mod sales;
mod show_proto;
mod shows;
mod throttle;
mod web;
mod ws;
