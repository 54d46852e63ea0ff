fastn_auth::connectors!(connectors_yaml);

fn main() {}
