//! `--demo`: a small world to explore in GraphiQL, built through the same use cases as
//! the API (so it obeys every rule).
use entity::{user, AccountType, LikesVisibility, Visibility};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};

use crate::{
    auth::token::Tokens,
    clock::Clock,
    domain::{
        accounts::{sign_up, SignUp},
        likes::like_video,
        sketch::SketchBuffer,
        social::{approve_follow_request, follow_user},
        videos::{create_video, NewVideo},
    },
    ids::{IdCodec, Kind},
};

mod history;

/// Password of every demo account.
pub const DEMO_PASSWORD: &str = "demo-password";

async fn account(
    db: &DatabaseConnection,
    clock: Clock,
    handle: &str,
    name: &str,
    account_type: AccountType,
    visibility: Visibility,
    likes_visibility: LikesVisibility,
) -> anyhow::Result<user::Model> {
    sign_up(
        db,
        SignUp {
            handle: handle.into(),
            password: DEMO_PASSWORD.into(),
            display_name: Some(name.into()),
            account_type,
            visibility,
            likes_visibility,
            birth_year: Some(1995),
            region: Some("EU".into()),
            language: Some("en".into()),
            avatar_url: Some(format!("https://media.tally.example/avatars/{handle}.jpg")),
        },
        clock,
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo sign-up of {handle}: {}", e.message()))
}

/// Seeds the demo world if the database has no accounts, then prints tokens for the
/// creator and for one of the likers. Every time it stores comes from `clock`.
pub async fn seed_and_print(
    db: &DatabaseConnection,
    sketches: &SketchBuffer,
    clock: Clock,
    tokens: &Tokens,
    ids: &IdCodec,
) -> anyhow::Result<()> {
    use AccountType::*;
    use LikesVisibility as L;
    use Visibility::*;
    let fail = |what: &'static str| {
        move |e: crate::error::AppError| anyhow::anyhow!("demo {what}: {}", e.message())
    };
    if user::Entity::find().count(db).await? > 0 {
        tracing::info!("database not empty: demo world not seeded");
    } else {
        let maya = account(
            db,
            clock,
            "maya.creates",
            "Maya (creator)",
            Creator,
            Public,
            L::Everyone,
        )
        .await?;
        let ana = account(db, clock, "ana", "Ana", Personal, Public, L::Everyone).await?;
        let ben = account(db, clock, "ben", "Ben", Personal, Private, L::Everyone).await?;
        let cleo = account(db, clock, "cleo", "Cleo", Personal, Public, L::Followers).await?;
        let dev = account(db, clock, "dev", "Dev", Personal, Public, L::OnlyMe).await?;
        let eli = account(db, clock, "eli", "Eli", Personal, Private, L::Followers).await?;
        let fay = account(db, clock, "fay", "Fay", Personal, Public, L::Everyone).await?;
        // Maya follows Ben (private, approved) and Cleo (public): she may see their likes.
        follow_user(db, maya.id, ben.id, clock.now_us())
            .await
            .map_err(fail("follow"))?;
        approve_follow_request(db, ben.id, maya.id, clock.now_us())
            .await
            .map_err(fail("approve"))?;
        follow_user(db, maya.id, cleo.id, clock.now_us())
            .await
            .map_err(fail("follow"))?;
        // Maya has asked to follow Eli, who has not answered: a pending request grants nothing.
        follow_user(db, maya.id, eli.id, clock.now_us())
            .await
            .map_err(fail("follow"))?;
        for fan in [&ana, &ben, &cleo, &fay] {
            follow_user(db, fan.id, maya.id, clock.now_us())
                .await
                .map_err(fail("follow"))?;
        }
        let dance = create_video(
            db,
            maya.id,
            NewVideo {
                caption: "Rooftop dance at sunset".into(),
                hashtags: vec!["dance".into(), "sunset".into()],
                sound: Some("Golden Hour".into()),
                duration_ms: Some(15_000),
                media_url: "https://media.tally.example/maya/rooftop-dance.mp4".into(),
                thumbnail_url: Some("https://media.tally.example/maya/rooftop-dance.jpg".into()),
            },
            clock.now_us(),
        )
        .await
        .map_err(fail("video"))?;
        create_video(
            db,
            maya.id,
            NewVideo {
                caption: "Behind the scenes".into(),
                hashtags: vec!["bts".into()],
                sound: None,
                duration_ms: Some(42_000),
                media_url: "https://media.tally.example/maya/behind-the-scenes.mp4".into(),
                thumbnail_url: Some(
                    "https://media.tally.example/maya/behind-the-scenes.jpg".into(),
                ),
            },
            clock.now_us(),
        )
        .await
        .map_err(fail("video"))?;
        for fan in [&ana, &ben, &cleo, &dev, &eli, &fay] {
            like_video(db, fan.id, dance.video.id, clock.now_us())
                .await
                .map_err(fail("like"))?;
        }
        let (views, likes, follows) = history::seed(db, sketches, clock, maya.id).await?;
        println!("Demo world seeded (every password: {DEMO_PASSWORD}).");
        println!(
            "History: {} days, {views} views, {likes} likes, {follows} follows of @maya.creates's audience of {} accounts.",
            history::DAYS,
            history::AUDIENCE
        );
        println!(
            "Video to try: {}",
            ids.encode_id(Kind::Video, dance.video.id)
        );
    }
    for handle in ["maya.creates", "ana"] {
        if let Some(u) = crate::domain::social::visible_user_by_handle(db, None, handle)
            .await
            .map_err(fail("lookup"))?
        {
            let issued = crate::domain::sessions::start(
                db,
                u.id,
                None,
                clock.now_us(),
                tokens.refresh_ttl(),
            )
            .await
            .map_err(fail("session"))?;
            let (token, expires) = tokens
                .issue(u.id, issued.session, clock.now())
                .map_err(fail("token"))?;
            println!(
                "Token for @{handle} (HTTP header, valid until {}):\n  {{\"Authorization\": \"Bearer {token}\"}}\n  refresh token (refreshSession): {}",
                expires.to_rfc3339(),
                issued.refresh_token
            );
        }
    }
    Ok(())
}
