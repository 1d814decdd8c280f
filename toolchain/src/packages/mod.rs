//! Recipes and ports as the tools use them: the recipe engine (crate uk-recipes: recipe
//! schema, source fetch, builder) re-exported, the port builder the tools configure
//! with their own uk-cc and terminal progress, and the files CMake and meson builds
//! need to use uk-cc.

pub use uk_recipes::{builder, fetch, progress, recipe};

pub mod buildsys;
pub mod ports;
