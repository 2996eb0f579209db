"""The request bodies the simulator accepts, shaped like the Messages API so validation errors read the same.

Unknown fields are allowed: the SDK grows new parameters faster than a test double should track them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ContentBlock = dict[str, Any]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CacheControl(_Open):
    type: Literal["ephemeral"]


class MessageIn(_Open):
    role: Literal["user", "assistant"]
    content: str | list[ContentBlock]


class ToolIn(_Open):
    name: str = Field(min_length=1)
    input_schema: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    description: str | None = None
    cache_control: CacheControl | None = None


class ToolChoice(_Open):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None


class OutputFormat(_Open):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Open):
    format: OutputFormat | None = None


class CountTokensRequest(_Open):
    model: str = Field(min_length=1)
    messages: list[MessageIn] = Field(min_length=1)
    system: str | list[ContentBlock] | None = None
    tools: list[ToolIn] | None = None
    tool_choice: ToolChoice | None = None
    output_config: OutputConfig | None = None

    def forced_tool(self) -> ToolIn | None:
        """The tool named by `tool_choice: {"type": "tool"}`, which the answer must call."""
        if self.tool_choice is None or self.tool_choice.type != "tool":
            return None
        return next((tool for tool in self.tools or [] if tool.name == self.tool_choice.name), None)

    def output_schema(self) -> dict[str, Any] | None:
        if self.output_config is None or self.output_config.format is None:
            return None
        return self.output_config.format.schema_


class MessagesRequest(CountTokensRequest):
    max_tokens: int = Field(ge=1)
    stream: bool = False
