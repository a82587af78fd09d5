"""Forum endpoints: /api/forum, and the forum's social endpoints under /api/users (see `users_blp`)."""

from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import jwt_required

from backend.core import showcase
from backend.core.auth import current_user_id, optional_user_id
from backend.core.envelope import EnvelopeBlueprint
from backend.core.pagination import PageArgs, paginated
from backend.core.schemas import LimitQuerySchema
from backend.modules.forum import service, social
from backend.modules.forum.schemas import (
    CommentCreateSchema,
    CommentSchema,
    FavoriteStateSchema,
    FollowStateSchema,
    LikeStateSchema,
    PostCreateSchema,
    PostDetailSchema,
    PostQueryArgsSchema,
    PostSchema,
    PostUpdateSchema,
    ProfileSchema,
    TipCreateSchema,
    TipSchema,
    UserBriefSchema,
)

blp = EnvelopeBlueprint(
    "forum",
    __name__,
    url_prefix="/api/forum",
    description="Posts, comments, likes, favorites, tips and the hot list.",
)
# The forum's part of /api/users: profiles, follows and favorites are social data the forum keeps
# (social.py), while the contract puts them under the user they belong to; the `users` module
# keeps the account itself (/api/users/me, /me/api-keys). `<uuid:user_id>` never matches "me".
users_blp = EnvelopeBlueprint(
    "forum_users",
    __name__,
    url_prefix="/api/users",
    description="Public profiles, follows and my favorites (kept by the forum).",
)
blueprints = [blp, users_blp]


@blp.route("/hot")
@jwt_required(optional=True)
@showcase.early
@blp.arguments(LimitQuerySchema, location="query")
@blp.response(200, PostSchema(many=True))
@blp.doc(security=[])
@showcase.cached(
    "forum.hot",
    PostSchema(many=True),
    reads=("posts", "comments", "likes", "tips", "users", "files"),
    anonymous_only=False,  # the same list for everyone
)
def hot(args):
    """List the hottest posts (anonymous callers welcome).

    Order: hot score descending (likes, comments and log-weighted tips, decayed by age:
    docs/forum.md), then `timestamp` descending, then `id`.
    """
    return service.list_hot(limit=args["limit"])


@blp.route("/posts")
class Posts(MethodView):
    """The post collection."""

    @jwt_required()
    @blp.arguments(PostQueryArgsSchema, location="query")
    @blp.response(200, PostSchema(many=True))
    @paginated(blp)
    def get(self, args, paging: PageArgs):
        """List posts (filter by `tag` and `author` id).

        Order: `timestamp` descending (newest first), then `id`.
        """
        return service.list_posts(tag=args.get("tag"), author_id=args.get("author"), **paging)

    @jwt_required()
    @blp.arguments(PostCreateSchema)
    @blp.response(201, PostDetailSchema)
    def post(self, body):
        """Publish a post (author and avatar come from my user record)."""
        return service.create_post(actor_id=current_user_id(), **body)


@blp.route("/posts/<id:post_id>")
class PostById(MethodView):
    """One post."""

    @jwt_required()
    @blp.response(200, PostDetailSchema)
    def get(self, post_id: str):
        """Return a post with my like/favorite flags and its tips total."""
        return service.get_post(actor_id=current_user_id(), post_id=post_id)

    @jwt_required()
    @blp.arguments(PostUpdateSchema)
    @blp.response(200, PostDetailSchema)
    def patch(self, changes, post_id: str):
        """Edit my post."""
        return service.update_post(actor_id=current_user_id(), post_id=post_id, changes=changes)

    @jwt_required()
    @blp.response(200)
    def delete(self, post_id: str):
        """Delete my post."""
        service.delete_post(actor_id=current_user_id(), post_id=post_id)


@blp.route("/posts/<id:post_id>/comments")
class Comments(MethodView):
    """A post's comments."""

    @jwt_required()
    @blp.response(200, CommentSchema(many=True))
    @paginated(blp)
    def get(self, post_id: str, paging: PageArgs):
        """List a post's comments.

        Order: `timestamp` ascending (oldest first), then `id`.
        """
        return service.list_comments(post_id=post_id, **paging)

    @jwt_required()
    @blp.arguments(CommentCreateSchema)
    @blp.response(201, CommentSchema)
    def post(self, body, post_id: str):
        """Comment on a post."""
        return service.add_comment(actor_id=current_user_id(), post_id=post_id, **body)


@blp.route("/comments/<id:comment_id>", methods=["DELETE"])
@jwt_required()
@blp.response(200)
def delete_comment(comment_id: str):
    """Delete my comment."""
    service.delete_comment(actor_id=current_user_id(), comment_id=comment_id)


@blp.route("/posts/<id:post_id>/like")
class PostLike(MethodView):
    """My like on a post (idempotent both ways)."""

    @jwt_required()
    @blp.response(200, LikeStateSchema)
    def post(self, post_id: str):
        """Like a post."""
        return social.like_post(actor_id=current_user_id(), post_id=post_id)

    @jwt_required()
    @blp.response(200, LikeStateSchema)
    def delete(self, post_id: str):
        """Remove my like."""
        return social.unlike_post(actor_id=current_user_id(), post_id=post_id)


@blp.route("/posts/<id:post_id>/favorite")
class PostFavorite(MethodView):
    """My favorite mark on a post (idempotent both ways)."""

    @jwt_required()
    @blp.response(200, FavoriteStateSchema)
    def post(self, post_id: str):
        """Add a post to my favorites."""
        return social.favorite_post(actor_id=current_user_id(), post_id=post_id)

    @jwt_required()
    @blp.response(200, FavoriteStateSchema)
    def delete(self, post_id: str):
        """Remove a post from my favorites."""
        return social.unfavorite_post(actor_id=current_user_id(), post_id=post_id)


@blp.route("/posts/<id:post_id>/tips", methods=["POST"])
@jwt_required()
@blp.arguments(TipCreateSchema)
@blp.response(201, TipSchema)
def tip(body, post_id: str):
    """Record a tip to the post's author (no payment is made)."""
    return social.tip_post(actor_id=current_user_id(), post_id=post_id, **body)


@users_blp.route("/me/favorites")
@jwt_required()
@users_blp.response(200, PostSchema(many=True))
@paginated(users_blp)
def my_favorites(paging: PageArgs):
    """List my favorite posts.

    Order: the time each was favorited, descending (most recently favorited first), then post `id`.
    """
    return social.list_favorites(actor_id=current_user_id(), **paging)


@users_blp.route("/<uuid:user_id>")
@jwt_required(optional=True)
@users_blp.response(200, ProfileSchema)
@users_blp.doc(security=[])
def profile(user_id):
    """Return a user's public profile (no login needed).
    ---
    Name, avatar, bio, when they joined, post, follower and following counts, and their newest
    published strategies with the server-verified figures. `isFollowing` is false for anonymous
    callers. A deleted account is a 404.
    """
    return social.get_profile(actor_id=optional_user_id(), user_id=str(user_id))


@users_blp.route("/<uuid:user_id>/follow")
class FollowUser(MethodView):
    """My follow of a user (idempotent both ways; never myself)."""

    @jwt_required()
    @users_blp.response(200, FollowStateSchema)
    def post(self, user_id):
        """Follow a user."""
        return social.follow_user(actor_id=current_user_id(), user_id=str(user_id))

    @jwt_required()
    @users_blp.response(200, FollowStateSchema)
    def delete(self, user_id):
        """Unfollow a user."""
        return social.unfollow_user(actor_id=current_user_id(), user_id=str(user_id))


@users_blp.route("/<uuid:user_id>/followers")
@jwt_required()
@users_blp.response(200, UserBriefSchema(many=True))
@paginated(users_blp)
def followers(user_id, paging: PageArgs):
    """List the users who follow this user.

    Order: the time each follow began, descending (newest follower first), then user `id`.
    """
    return social.list_followers(user_id=str(user_id), **paging)


@users_blp.route("/<uuid:user_id>/following")
@jwt_required()
@users_blp.response(200, UserBriefSchema(many=True))
@paginated(users_blp)
def following(user_id, paging: PageArgs):
    """List the users this user follows.

    Order: the time each follow began, descending (most recently followed first), then user `id`.
    """
    return social.list_following(user_id=str(user_id), **paging)
