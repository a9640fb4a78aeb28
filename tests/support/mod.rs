//! The shared harness of the end-to-end tests: a daemon on a free 127.0.0.1 port with
//! its own directory ([`daemon`]), a line-oriented SMTP client ([`client`]) and the
//! STARTTLS layer on both ([`tls`]), the other programs tests compare with
//! ([`tools`]), the fixture transcripts ([`transcript`], [`scanner`], with the fake
//! scanner servers' [`fake_server`]) and DKIM signing ([`dkim_sign`]). Each test crate
//! uses only part of it.
#![allow(dead_code)]

pub mod client;
pub mod daemon;
pub mod dkim_sign;
pub mod exim_bs;
pub mod fake_server;
pub mod pki;
pub mod ports;
pub mod scanner;
pub mod tls;
pub mod tools;
pub mod transcript;
