//! The committed SDL is the generated one.

#[test]
fn committed_schema_matches_generated_sdl() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql");
    let generated = tally::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is stale: run `cargo run -- export-schema` and commit the result"
    );
}

#[test]
fn schema_has_every_name_of_the_api_contract() {
    let sdl = tally::graphql::sdl();
    for needle in [
        "interface Node",
        "enum AccountVisibility",
        "enum LikesVisibility",
        "enum AccountType",
        "enum FollowState",
        "likesVisibility: LikesVisibility\n",
        "viewerFollowState: FollowState!",
        "followRequests(first: Int! = 20, after: String): UserConnection\n",
        "blockedUsers(first: Int! = 20, after: String): UserConnection\n",
        "visibleLikers(first: Int! = 20, after: String): LikerConnection!",
        "hiddenCount: Int!",
        "likedAt: DateTime!",
        "type AuthPayload",
        "expiresAt: DateTime!",
        "accountType: AccountType! = PERSONAL",
        "feed(first: Int! = 20, after: String): VideoConnection!",
        "likeVideo(videoId: ID!): Video!",
        "deleteAccount(password: String!): Boolean!",
        "approveFollowRequest(userId: ID!): Follow!",
        // Analytics (API.md "Analytics").
        "durationMs: Int\n",
        "viewCount: Int!",
        "recordView(videoId: ID!, watchMs: Int!): Boolean!",
        // Third-party analytics apps (API.md "Third-party analytics apps").
        "type ApiClient implements Node",
        "revokedAt: DateTime\n",
        "type ApiClientCredentials",
        "clientId: String!",
        "clientSecret: String!",
        "apiClients: [ApiClient!]\n",
        "createApiClient(name: String!): ApiClientCredentials!",
        "revokeApiClient(id: ID!): Boolean!",
        "appAnalytics(window: AnalyticsWindow! = LAST_28_DAYS): AppAnalytics!",
        "type NoisyCount",
        "stdDev: Float!",
        "type PrivacyBudget",
        "epsilonPerQuery: Float!",
        "dailyEpsilon: Float!",
        "spentToday: Float!",
        "remainingToday: Float!",
        "resetsAt: DateTime!",
        "type AppAnalytics",
        "budget: PrivacyBudget!",
        "daily: [NoisyDailyStats!]!",
        "peakHours: [NoisyHourStats!]!",
        "audience: NoisyAudience!",
        "type NoisyDailyStats",
        "type NoisyHourStats",
        "type NoisyAudience",
        "type NoisyBreakdown",
        "withheldReason: WithheldReason\n",
        "devices: [NoisyBucket!]\n",
        "type NoisyBucket",
        "count: NoisyCount!",
        // Client essentials (API.md "Client essentials (sessions and media issue)").
        "mediaUrl: String!",
        "thumbnailUrl: String\n",
        "avatarUrl: String\n",
        "sessions: [Session!]\n",
        "type Session implements Node",
        "lastUsedAt: DateTime!",
        "device: String\n",
        "current: Boolean!",
        "refreshToken: String!",
        "refreshExpiresAt: DateTime!",
        "refreshSession(refreshToken: String!): AuthPayload!",
        "logOut: Boolean!",
        "logOutEverywhere: Boolean!",
        "endSession(id: ID!): Boolean!",
        "changePassword(oldPassword: String!, newPassword: String!): Boolean!",
        // Live (API.md "Live").
        "type Subscription",
        "likeCountChanged(videoId: ID!): LikeCountUpdate!",
        "likeActivity: LikeActivity!",
        "type LikeCountUpdate",
        "videoId: ID!",
        "type LikeActivity",
        "liker: User\n",
        "at: DateTime!",
    ] {
        assert!(sdl.contains(needle), "SDL lacks `{needle}`:\n{sdl}");
    }
}

#[test]
fn client_essentials_inputs_take_their_urls() {
    let sdl = tally::graphql::sdl();
    for (input, field) in [
        ("input CreateVideoInput", "mediaUrl: String!"),
        ("input CreateVideoInput", "thumbnailUrl: String\n"),
        ("input SignUpInput", "avatarUrl: String\n"),
        ("input UpdateAccountInput", "avatarUrl: String\n"),
    ] {
        let start = sdl
            .find(input)
            .unwrap_or_else(|| panic!("SDL lacks `{input}`"));
        let body = &sdl[start..];
        let end = body.find("\n}").expect("end of the input");
        assert!(body[..=end].contains(field), "`{input}` lacks `{field}`");
    }
}
