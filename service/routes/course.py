"""A collection's own settings: what its widget shows (public), and its ``course.json``
read and changed with the admin key."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Path

from service.course import CourseConfig, CourseConfigInvalid, effective
from service.deps import AdminDep, CollectionDep, LibraryDep, SettingsDep
from service.errors import ValidationFailed
from service.schemas import CourseConfigResponse, CoursePublic, error_responses

router = APIRouter(tags=["courses"])
admin = APIRouter(tags=["courses"])

CollectionPath = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/v1/course", response_model=CoursePublic, responses=error_responses(404, 503))
async def course(
    library: LibraryDep,
    settings: SettingsDep,
    name: CollectionDep,
) -> CoursePublic:
    values = effective(settings, name, await to_thread.run_sync(library.course, name))
    return CoursePublic(
        collection=name,
        title=values["title"],
        greeting=values["greeting"],
        teaching_mode=values["teaching_mode"],
        answer_style=values["answer_style"],
    )


def _response(settings: SettingsDep, name: str, config: CourseConfig) -> CourseConfigResponse:
    return CourseConfigResponse(
        collection=name, config=config.set_keys(), effective=effective(settings, name, config)
    )


@admin.get(
    "/v1/collections/{name}/config",
    response_model=CourseConfigResponse,
    responses=error_responses(401, 403, 404, 503),
)
async def read_config(
    name: CollectionPath, library: LibraryDep, settings: SettingsDep, _: AdminDep
) -> CourseConfigResponse:
    return _response(settings, name, await to_thread.run_sync(library.course, name))


@admin.patch(
    "/v1/collections/{name}/config",
    response_model=CourseConfigResponse,
    responses=error_responses(400, 401, 403, 404, 413, 415, 422),
)
async def change_config(
    name: CollectionPath,
    changes: CourseConfig,
    library: LibraryDep,
    settings: SettingsDep,
    _: AdminDep,
) -> CourseConfigResponse:
    """Set the keys the body names; a key set to null goes back to the global setting.
    A damaged file can be repaired this way."""
    folder = await to_thread.run_sync(library.folder, name)
    wanted = {key: getattr(changes, key) for key in changes.model_fields_set}
    try:
        config = await to_thread.run_sync(library.courses.update, folder, wanted)
    except CourseConfigInvalid as exc:
        raise ValidationFailed(str(exc)) from exc
    return _response(settings, name, config)
