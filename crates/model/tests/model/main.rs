//! The importer's integration tests, in one test binary (each binary links all of Burn, so
//! one instead of five saves minutes of a cold build).

mod bad_models;
mod exported_models;
mod fuzz_graphs;
mod gradient_check;
mod hostile_files;
mod onnxruntime_parity;
mod op_gradients;
