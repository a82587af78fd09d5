"""Routes of the users module: the caller's profile and API keys."""

from __future__ import annotations

from flask_jwt_extended import jwt_required

from backend.core.auth import current_user_id, token_claims
from backend.core.envelope import EnvelopeBlueprint
from backend.modules.users import service
from backend.modules.users.schemas import (
    ApiKeyDeleteQuerySchema,
    ApiKeyPutSchema,
    ApiKeySchema,
    UserSchema,
    UserUpdateSchema,
)

blp = EnvelopeBlueprint("users", __name__, url_prefix="/api/users", description="The caller's account.")


@blp.route("/me")
@jwt_required()
@blp.response(200, UserSchema)
def get_me():
    """Return the caller's profile."""
    return service.get_user(user_id=current_user_id())


@blp.route("/me", methods=["PATCH"])
@jwt_required()
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def patch_me(changes):
    """Update the caller's profile (name, avatar, email, username, password).
    ---
    Changing the password ends every other session of the account: their access and refresh
    tokens are refused from then on. The tokens of the session making the change keep working.
    """
    return service.update_me(actor_id=current_user_id(), changes=changes, session_id=token_claims()["fam"])


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
