"""Routes of the users module: the caller's profile, avatar and API keys; anyone's default avatar."""

from __future__ import annotations

from flask import Response, request
from flask_jwt_extended import jwt_required

from backend.core import personal
from backend.core.auth import current_user_id, token_claims
from backend.core.envelope import EnvelopeBlueprint
from backend.modules.files.service import refuse_other_parts
from backend.modules.users import identicon, read_models, service
from backend.modules.users.errors import UserNotFound
from backend.modules.users.schemas import (
    AVATAR_TYPES,
    AccountDeleteSchema,
    ApiKeyDeleteQuerySchema,
    ApiKeyPutSchema,
    ApiKeySchema,
    AvatarUploadSchema,
    PasswordChangedSchema,
    PasswordChangeSchema,
    UserSchema,
    UserUpdateSchema,
)

blp = EnvelopeBlueprint("users", __name__, url_prefix="/api/users", description="The caller's account.")


@blp.route("/me")
@jwt_required()
@personal.cached("users.me", reads={"users": personal.OWNER, "files": personal.OWNER})
@blp.response(200, UserSchema)
def get_me():
    """Return the caller's profile."""
    return read_models.profile(user_id=current_user_id())


@blp.route("/me", methods=["PATCH"])
@jwt_required()
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def patch_me(changes):
    """Update the caller's profile (name, bio, timezone, locale, avatar, email, username, password).
    ---
    `timezone` is an IANA zone name (e.g. `Europe/Paris`), `locale` a BCP 47 tag (e.g. `zh-CN`),
    `bio` at most 500 characters; null clears them. Changing the password here works as
    `POST /api/users/me/password` does: every other session of the account ends, the tokens of
    the session making the change keep working.
    """
    return service.update_me(actor_id=current_user_id(), changes=changes, session_id=token_claims()["fam"])


@blp.route("/me", methods=["DELETE"])
@jwt_required()
@blp.arguments(AccountDeleteSchema)
@blp.response(200)
@blp.alt_response(503, description="Too many passwords being checked at once (Retry-After header).")
def delete_me(body):
    """Delete my account (the password confirms it).
    ---
    At once: every session ends (all tokens are refused), my strategies, backtests, sweeps, bots,
    workflows, audits, memories, files (their bytes too), likes, favorites, follows and API keys are
    deleted; my posts and comments stay, shown as written by "deleted user". My username and email
    are free again. A wrong password is 422 `users.wrong_password` and deletes nothing.
    """
    service.delete_account(actor_id=current_user_id(), password=body["password"])


@blp.route("/me/password", methods=["POST"])
@jwt_required()
@blp.arguments(PasswordChangeSchema)
@blp.response(200, PasswordChangedSchema)
@blp.alt_response(503, description="Too many passwords being checked at once (Retry-After header).")
def change_my_password(body):
    """Change my password (the current one is required).
    ---
    The new password follows the registration rule (8-128 characters). Every other session of
    the account ends at once (their access and refresh tokens are refused); the session making
    the change keeps its tokens. A wrong current password is 422 `users.wrong_password`
    (field `currentPassword`) and changes nothing.
    """
    ended = service.change_password(
        actor_id=current_user_id(),
        current_password=body["current_password"],
        new_password=body["new_password"],
        session_id=token_claims()["fam"],
    )
    return {"sessions_ended": ended}


@blp.route("/me/onboarding", methods=["POST"])
@jwt_required()
@blp.response(200, UserSchema)
def complete_my_onboarding():
    """Mark my onboarding as completed (`onboardingCompletedAt`; the first call sets it)."""
    return service.complete_onboarding(actor_id=current_user_id())


@blp.route("/me/avatar", methods=["PUT"])
@jwt_required()
@blp.arguments(AvatarUploadSchema, location="files")
@blp.doc(
    requestBody={"content": {"multipart/form-data": {"encoding": {"file": {"contentType": AVATAR_TYPES}}}}}
)
@blp.response(200, UserSchema)
@blp.alt_response(413, description="The image is larger than AVATAR_MAX_BYTES.")
@blp.alt_response(415, description="The content is not a PNG, JPEG, WebP or GIF image.")
def put_my_avatar(args):
    """Upload an image as my avatar (multipart part `file`; any other part is refused).
    ---
    The image becomes public at the URL in `avatar` (`/api/files/public/{id}`, no login needed,
    cacheable); the previous uploaded avatar is deleted.
    """
    refuse_other_parts(request.form.keys())
    upload = args["file"]
    return service.upload_avatar(actor_id=current_user_id(), filename=upload.filename, stream=upload.stream)


@blp.route("/me/avatar", methods=["DELETE"])
@jwt_required()
@blp.response(200, UserSchema)
def delete_my_avatar():
    """Go back to the generated default avatar (an uploaded image is deleted)."""
    return service.reset_avatar(actor_id=current_user_id())


AVATAR_CACHE = "public, max-age=604800, immutable"  # the drawing depends on the id alone


@blp.route("/<uuid:user_id>/avatar.svg")
@blp.doc(security=[])
@blp.response(200, {"type": "string"}, content_type="image/svg+xml")
@blp.alt_response(304, description="Not modified (If-None-Match matched the ETag).")
def default_avatar(user_id):
    """A user's generated default avatar (an identicon of the id); no login needed.
    ---
    The same id always gives the same image. An id that is not a user's is a 404 (one that cannot
    be a UUID never reaches the database).
    """
    uid = str(user_id)
    if not service.avatar_owner_exists(user_id=uid):
        raise UserNotFound()
    return svg_response(identicon.identicon_svg(uid), etag=identicon.etag_of(uid))


def svg_response(svg: str, *, etag: str) -> Response:
    """Build a cacheable, inert SVG response (304 when If-None-Match matches ``etag``)."""
    resp = Response(svg, status=200, content_type="image/svg+xml")
    resp.headers["Cache-Control"] = AVATAR_CACHE
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    resp.set_etag(etag)
    resp.make_conditional(request)  # a matching If-None-Match turns it into a bodiless 304
    return resp


@blp.route("/me/api-keys")
@jwt_required()
@blp.response(200, ApiKeySchema(many=True))
def list_api_keys():
    """List the caller's stored API keys, masked."""
    return service.list_api_keys(actor_id=current_user_id())


@blp.route("/me/api-keys", methods=["PUT"])
@jwt_required(fresh=True)
@blp.arguments(ApiKeyPutSchema)
@blp.response(200, ApiKeySchema)
def put_api_key(body):
    """Store or replace the key for one exchange (needs a fresh login).
    ---
    The key and secret are encrypted at rest and never returned.
    """
    return service.put_api_key(actor_id=current_user_id(), **body)


@blp.route("/me/api-keys", methods=["DELETE"])
@jwt_required()
@blp.arguments(ApiKeyDeleteQuerySchema, location="query")
@blp.response(200)
def delete_api_key(args):
    """Delete the caller's key for `?exchange=`."""
    service.delete_api_key(actor_id=current_user_id(), exchange=args["exchange"])
