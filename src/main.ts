// `npm start`: the gateway on $PORT (default 8080) with $BELLWETHER_CONFIG or config/default.yaml.
import { serve } from './cli/serve.js';

await serve(undefined);
