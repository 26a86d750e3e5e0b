//! MCP JSON-RPC methods a client can send → actions, generated from
//! `specs/mcp.methods.jsonl` by `src/codegen.rs`. Do not edit: run
//! `UPDATE_ROUTES=1 cargo test -p mcp`.

use tameflare_sdk::Risk;

use crate::actions::Method;

/// Every client-sendable method, sorted by method name (binary search).
pub(crate) static METHODS: [Method; 24] = [
    Method { method: "completion/complete", action: "mcp.completion.complete", risk: Risk::Low, read_only: true, description: "CompleteRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
    Method { method: "initialize", action: "mcp.initialize", risk: Risk::Low, read_only: false, description: "InitializeRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)" },
    Method { method: "logging/setLevel", action: "mcp.logging.set_level", risk: Risk::Medium, read_only: false, description: "SetLevelRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)" },
    Method { method: "notifications/cancelled", action: "mcp.notifications.cancelled", risk: Risk::Low, read_only: false, description: "CancelledNotification (notification; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
    Method { method: "notifications/initialized", action: "mcp.notifications.initialized", risk: Risk::Low, read_only: false, description: "InitializedNotification (notification; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)" },
    Method { method: "notifications/progress", action: "mcp.notifications.progress", risk: Risk::Low, read_only: false, description: "ProgressNotification (notification; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)" },
    Method { method: "notifications/roots/list_changed", action: "mcp.notifications.roots_list_changed", risk: Risk::Low, read_only: false, description: "RootsListChangedNotification (notification; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)" },
    Method { method: "notifications/tasks/status", action: "mcp.notifications.tasks_status", risk: Risk::Low, read_only: false, description: "TaskStatusNotification (notification; protocol 2025-11-25)" },
    Method { method: "ping", action: "mcp.ping", risk: Risk::Low, read_only: true, description: "PingRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)" },
    Method { method: "prompts/get", action: "mcp.prompts.get", risk: Risk::Low, read_only: true, description: "GetPromptRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
    Method { method: "prompts/list", action: "mcp.prompts.list", risk: Risk::Low, read_only: true, description: "ListPromptsRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
    Method { method: "resources/list", action: "mcp.resources.list", risk: Risk::Low, read_only: true, description: "ListResourcesRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
    Method { method: "resources/read", action: "mcp.resources.read", risk: Risk::Low, read_only: true, description: "ReadResourceRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
    Method { method: "resources/subscribe", action: "mcp.resources.subscribe", risk: Risk::Medium, read_only: false, description: "SubscribeRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)" },
    Method { method: "resources/templates/list", action: "mcp.resources.templates_list", risk: Risk::Low, read_only: true, description: "ListResourceTemplatesRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
    Method { method: "resources/unsubscribe", action: "mcp.resources.unsubscribe", risk: Risk::Medium, read_only: false, description: "UnsubscribeRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25)" },
    Method { method: "server/discover", action: "mcp.server.discover", risk: Risk::Low, read_only: true, description: "DiscoverRequest (request; protocol 2026-07-28)" },
    Method { method: "subscriptions/listen", action: "mcp.subscriptions.listen", risk: Risk::Medium, read_only: false, description: "SubscriptionsListenRequest (request; protocol 2026-07-28)" },
    Method { method: "tasks/cancel", action: "mcp.tasks.cancel", risk: Risk::Medium, read_only: false, description: "CancelTaskRequest (request; protocol 2025-11-25)" },
    Method { method: "tasks/get", action: "mcp.tasks.get", risk: Risk::Low, read_only: true, description: "GetTaskRequest (request; protocol 2025-11-25)" },
    Method { method: "tasks/list", action: "mcp.tasks.list", risk: Risk::Low, read_only: true, description: "ListTasksRequest (request; protocol 2025-11-25)" },
    Method { method: "tasks/result", action: "mcp.tasks.result", risk: Risk::Low, read_only: true, description: "GetTaskPayloadRequest (request; protocol 2025-11-25)" },
    Method { method: "tools/call", action: "mcp.tools.call", risk: Risk::High, read_only: false, description: "CallToolRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
    Method { method: "tools/list", action: "mcp.tools.list", risk: Risk::Low, read_only: true, description: "ListToolsRequest (request; protocol 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28)" },
];
