-- wrk script of the service benchmark: POST /v1/labels with request bodies read from a file
-- (one JSON body per line), cycled, each connection starting at its own place.
local bodies = {}
local counter = 0

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  counter = math.random(#bodies)
end

function request()
  counter = counter % #bodies + 1
  return wrk.format("POST", "/v1/labels", { ["Content-Type"] = "application/json" }, bodies[counter])
end
