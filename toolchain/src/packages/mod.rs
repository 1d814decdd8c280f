//! Recipes and ports as the tools use them: the recipe engine (crate uk-recipes: recipe
//! schema, source fetch, builder) re-exported, and the port builder the tools configure
//! with their own uk-cc and terminal progress.

pub use uk_recipes::{builder, fetch, progress, recipe};

pub mod ports;
