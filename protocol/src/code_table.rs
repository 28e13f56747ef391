//! The shape shared by request and response codes: `i32` constants (the type of
//! `RemotingCommand::code`), the table of all of them, and `name(code)` for logs.

/// Define each code as a `pub const`, the `ALL` table and `pub fn name`.
macro_rules! codes {
    ($($name:ident = $value:expr,)*) => {
        $(pub const $name: i32 = $value;)*
        const ALL: &[(i32, &str)] = &[$(($value, stringify!($name)),)*];

        /// The Java constant name of `code`, for logs and remarks; `None` if unknown.
        pub fn name(code: i32) -> Option<&'static str> {
            ALL.iter().find(|(value, _)| *value == code).map(|(_, name)| *name)
        }
    };
}

pub(crate) use codes;
