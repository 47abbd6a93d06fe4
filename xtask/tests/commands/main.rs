//! The command line's tests, in one test binary: bad input and resumed runs, every exported
//! model, and the input views.

mod bad_input;
mod catalogue;
mod catalogue_scale;
mod exported;
mod views;
