-- Argo CD health check of orders.ordersaga.io/OrderSaga.
--
-- This file is the source of truth: argocd-cm-patch.yaml is generated from
-- it ("go test ./test/health -update"), and test/health runs it over the
-- status of every phase. docs/api.md, "Health: kstatus and Argo CD", gives
-- the table and the reasons for it.
--
-- Argo CD runs custom checks without Lua's string library, so this script
-- uses only the base and table libraries.

local finishedLabel = "orders.ordersaga.io/finished"

-- Health of a saga that waits (Blocked is True), by the condition's reason.
-- A reason not listed (from a newer operator) is Progressing.
local blockedHealth = {
  ParticipantNotRegistered = "Degraded", -- a person registers the Participant
  CommandNotDeclared = "Degraded",       -- a person declares the command
  TemplateNotFound = "Degraded",         -- a person creates the SagaTemplate
  ParticipantSuspended = "Suspended",    -- a person paused the participant
  BrokerUnavailable = "Progressing",     -- an outage the operator rides out
}

local function findCondition(conditions, conditionType)
  if type(conditions) ~= "table" then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

-- describe is the condition's message, else its reason, else fallback.
local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local function result(status, message)
  return { status = status, message = message }
end

local function health(saga)
  local status = saga.status
  if type(status) ~= "table" or status.phase == nil or status.phase == "" then
    return result("Progressing", "Waiting for the operator")
  end
  local metadata = saga.metadata or {}
  local labels = metadata.labels or {}
  -- A retired saga is final and out of the operator's sight: an edit of its
  -- spec is never observed, and would change nothing.
  if labels[finishedLabel] ~= "true" and metadata.generation ~= nil
      and status.observedGeneration ~= metadata.generation then
    return result("Progressing", "Waiting for the operator to observe generation " .. tostring(metadata.generation))
  end

  local phase = tostring(status.phase)
  local conditions = status.conditions
  local ready = findCondition(conditions, "Ready")
  -- A person holds the saga (spec.suspend): nothing moves until they
  -- resume it. A finished saga has nothing left to hold; its phase says more.
  local suspended = findCondition(conditions, "Suspended")
  if isTrue(suspended) and phase ~= "Completed" and phase ~= "Compensated" and phase ~= "Failed" then
    return result("Suspended", phase .. ": " .. describe(suspended, "suspended (spec.suspend)"))
  end
  if phase == "Completed" then
    return result("Healthy", "Completed: " .. describe(ready, "every step succeeded"))
  elseif phase == "Compensated" then
    -- Settled: the order was refused and what was done is undone.
    return result("Healthy", "Compensated: " .. describe(ready, "every completed step was undone"))
  elseif phase == "Failed" then
    return result("Degraded", "Failed: " .. describe(ready, "a compensation failed; the saga needs a person"))
  elseif phase == "Pending" or phase == "Running" or phase == "Compensating" then
    local blocked = findCondition(conditions, "Blocked")
    if isTrue(blocked) then
      local reason = tostring(blocked.reason)
      return result(blockedHealth[reason] or "Progressing",
        phase .. ", blocked (" .. reason .. "): " .. describe(blocked, "waiting"))
    end
    return result("Progressing", phase .. ": " .. describe(findCondition(conditions, "Reconciling"), "in progress"))
  end

  -- A phase this check does not know: read the kstatus conditions.
  local reconciling = findCondition(conditions, "Reconciling")
  local stalled = findCondition(conditions, "Stalled")
  if isTrue(reconciling) then
    return result("Progressing", phase .. ": " .. describe(reconciling, "in progress"))
  elseif isTrue(stalled) then
    return result("Degraded", phase .. ": " .. describe(stalled, "stalled"))
  elseif isTrue(ready) then
    return result("Healthy", phase .. ": " .. describe(ready, "ready"))
  end
  return result("Unknown", "Unknown phase " .. phase)
end

return health(obj)
