-- wrk script of the service benchmark: POST /v1/labels with request bodies read from a file
-- (one JSON body per line), cycled, each connection starting at its own place. With a second
-- argument "unique", every single-report body gets a numbered line appended to its text, as
-- real traffic is new text each time (caches keyed on the text then fill to their bound).
local bodies = {}
local counter = 0
local unique = false
local sent = 0
local tag = 0

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  unique = args[2] == "unique"
  counter = math.random(#bodies)
  tag = math.random(1000000)
end

function request()
  counter = counter % #bodies + 1
  local body = bodies[counter]
  if unique then
    sent = sent + 1
    body = body:sub(1, #body - 2) .. "\\nAccession " .. tag .. "-" .. sent .. ".\"}"
  end
  return wrk.format("POST", "/v1/labels", { ["Content-Type"] = "application/json" }, body)
end
