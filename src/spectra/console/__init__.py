"""Surface: the server-rendered admin console and member portal."""
