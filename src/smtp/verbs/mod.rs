//! One file per SMTP verb, each with a `handle_<verb>` function.

pub mod arrival;
pub mod auth;
pub mod bmi;
pub mod data;
pub mod dkim;
pub mod ehlo;
pub mod listing;
pub mod mail;
pub mod mime;
pub mod misc;
pub mod prdr;
pub mod rcpt;
pub mod starttls;
pub mod vrfy;
