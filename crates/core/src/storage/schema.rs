//! The diesel view of migrations/*/up.sql.

diesel::table! {
    tenants (id) {
        id -> Text,
        slug -> Text,
        name -> Text,
        apis -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    tenant_hosts (host) {
        host -> Text,
        tenant_id -> Text,
    }
}

diesel::table! {
    tenant_settings (tenant_id, name) {
        tenant_id -> Text,
        name -> Text,
        value -> Text,
        updated_at -> BigInt,
        set_by -> Nullable<Text>,
    }
}

diesel::table! {
    signing_keys (tenant_id, kid) {
        tenant_id -> Text,
        kid -> Text,
        secret -> Text,
        created_at -> BigInt,
        retired_at -> Nullable<BigInt>,
        alg -> Text,
        public_key -> Nullable<Text>,
        not_before -> BigInt,
        issued_for -> Nullable<Text>,
    }
}

diesel::table! {
    users (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        email -> Nullable<Text>,
        username -> Nullable<Text>,
        username_key -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        firstname -> Text,
        lastname -> Text,
        email_verified -> Bool,
        scopes -> Text,
        plan -> Text,
        metadata -> Text,
        is_active -> Bool,
        disabled -> Bool,
        failed_signins -> Integer,
        locked_until -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        tokens_valid_after -> BigInt,
        profile -> Text,
        vendor -> Nullable<Text>,
    }
}

diesel::table! {
    projects (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        jwt_secret -> Text,
        created_by -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    project_members (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        project_id -> Text,
        member_key -> Text,
        user_id -> Nullable<Text>,
        role -> Text,
        active -> Bool,
        profile -> Text,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    revoked_tokens (tenant_id, jti) {
        tenant_id -> Text,
        jti -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    changes (id) {
        id -> Text,
        tenant_id -> Text,
        kind -> Text,
        key -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    signin_locks (tenant_id, login_key, client_ip) {
        tenant_id -> Text,
        login_key -> Text,
        client_ip -> Text,
        failures -> Integer,
        locked_until -> Nullable<BigInt>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    operator_keys (key_id) {
        key_id -> Text,
        name -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    audit_events (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        at -> BigInt,
        kind -> Text,
        outcome -> Text,
        user_id -> Nullable<Text>,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        dialect -> Text,
        request_id -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    mail_codes (tenant_id, code_hash) {
        tenant_id -> Text,
        code_hash -> Text,
        purpose -> Text,
        user_id -> Text,
        email -> Text,
        expires_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    mail_outbox (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        recipient -> Text,
        message -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    mail_requests (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        email_key -> Nullable<Text>,
        ip_key -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    legacy_keys (tenant_id, kid) {
        tenant_id -> Text,
        kid -> Text,
        alg -> Text,
        secret -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    introspection_clients (tenant_id, id) {
        tenant_id -> Text,
        id -> Text,
        name -> Text,
        secret_hash -> Text,
        created_at -> BigInt,
    }
}
